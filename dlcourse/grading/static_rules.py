"""What submitted code may not do, read with ast in the grader (never by running it).

Two rules (``dlcourse check`` applies both, so students meet them before grading):

* **Tampering** (any cell the student wrote): changing attributes of imported modules or of the checks
  (``np.allclose = ...``), dynamic code (``eval``, ``exec``, ``compile``, ``__import__``), introspection that
  reaches other code's internals (``globals()``, ``vars()``, ``__globals__``, frames, ``gc``, ``inspect``,
  ``ctypes``), the import machinery (``sys.modules``, ``sys.path``, ``importlib``), IPython's hooks
  (``get_ipython()`` beyond running ordinary magics), threads, trace and audit hooks, pickles, and importing
  ``dlcourse``. No exercise needs any of them, and they are the ways to alter what the grader receives: a
  submission that uses one scores 0.
* **From scratch** (the exercises of modules 01-04): a graded function, and everything it reaches by name --
  its helpers, the global values it reads and every statement that binds or changes them -- may use NumPy
  and Python's own math and container modules only, and none of the library functions its exercise forbids
  (``numpy.convolve`` ...). What is forbidden is decided by what a name *resolves to* through the imports
  (``np.pad``, ``from numpy import pad``, ``scipy.signal.x``), never by the name alone: a helper of the
  student's own named ``convolve``, or an attribute named ``pad`` of an object, is not a library call.

Both rules walk the syntax trees without recursion, so that a long expression (a sum of 1,500 terms) is read
like any other.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from IPython.core.inputtransformer2 import TransformerManager

from .prepare import SETUP, PreparedNotebook

# What a from-scratch answer may import: NumPy, and Python's own math, containers and plumbing.
SCRATCH_MODULES = ("numpy", "math", "cmath", "itertools", "functools", "collections", "operator", "numbers",
                   "typing", "dataclasses", "random", "statistics", "fractions", "decimal", "copy", "re", "string",
                   "enum", "abc", "sys", "time", "logging", "pprint")
# What a from-scratch answer may not call to read an answer from a file, by what the name resolves to.
FILE_READERS = ("builtins.open", "builtins.input", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile",
                "numpy.memmap", "numpy.fromregex", "numpy.DataSource")

TAMPER_MODULES = ("dlcourse", "builtins", "importlib", "imp", "runpy", "zipimport", "pkgutil", "site", "gc",
                  "ctypes", "cffi", "inspect", "threading", "_thread", "multiprocessing", "concurrent", "signal",
                  "atexit", "faulthandler", "IPython", "ipykernel", "traitlets", "pickle", "_pickle", "marshal",
                  "shelve", "dill", "cloudpickle", "joblib", "types", "code", "codeop")
TAMPER_BUILTINS = ("eval", "exec", "compile", "__import__", "globals", "locals", "vars", "setattr", "delattr",
                   "breakpoint", "__builtins__", "__builtin__", "__loader__", "__spec__")
SYS_INTERNALS = ("modules", "meta_path", "path_hooks", "path_importer_cache", "path", "settrace", "setprofile",
                 "addaudithook", "_getframe", "monitoring")
INTERNAL_ATTRIBUTES = ("__dict__", "__globals__", "__builtins__", "__code__", "__closure__", "__bases__", "__base__",
                       "__mro__", "__subclasses__", "__func__", "__wrapped__", "__defaults__", "__kwdefaults__",
                       "__getattribute__", "__setattr__", "__delattr__", "__import__", "__loader__", "__spec__",
                       "__reduce__", "__reduce_ex__", "__traceback__", "tb_frame", "f_globals", "f_locals", "f_back",
                       "f_builtins", "f_code", "gi_frame", "cr_frame", "ag_frame", "co_code")
SHELL_CALLS = ("run_line_magic", "run_cell_magic", "system", "getoutput")
ALLOWED_IMPORTS = ("IPython.display", "IPython.core.display")  # from ... import display, HTML, Markdown
SAFE_MAGICS = ("matplotlib", "time", "timeit", "precision", "pprint", "who", "whos", "who_ls", "pinfo", "pinfo2",
               "pdoc", "psearch", "xmode", "capture", "bash", "sh", "script", "system", "sx", "html", "markdown",
               "latex", "svg", "env", "cd", "pwd", "ls", "pip", "conda", "sc")


@dataclass(frozen=True)
class Finding:
    """One rule broken: where (cell position, line) and what."""

    cell: int
    line: int
    what: str

    def describe(self) -> str:
        return f"{self.what} (cell {self.cell + 1}, line {self.line})"


def parse_cell(source: str) -> ast.Module | None:
    """A cell's code as Python (IPython syntax such as %magics translated); None when it does not parse."""
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None


def _root_name(node: ast.AST) -> str | None:
    """The variable an attribute/subscript/call chain starts from: np in np.linalg.norm(x)[0]."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:60]
    except Exception:  # unparse of an unusual tree
        return type(node).__name__


@dataclass
class CellCode:
    """A parsed code cell of the notebook."""

    index: int
    tree: ast.Module
    student_written: bool
    locked_setup: bool


def parse_notebook(prepared: PreparedNotebook) -> list[CellCode]:
    """Every code cell that parses, in order."""
    cells = []
    for cell in prepared.cells:
        tree = parse_cell(cell.source)
        if tree is not None:
            cells.append(CellCode(cell.index, tree, cell.student_written, cell.role == SETUP))
    return cells


# ---------------------------------------------------------------------------------------------------------
# Tampering.
# ---------------------------------------------------------------------------------------------------------

def tampering(cells: list[CellCode]) -> list[Finding]:
    """Every use of a tampering feature in the cells the student wrote."""
    library_names = _library_names(cells)
    findings = []
    for cell in cells:
        if cell.student_written:
            findings += _TamperScan(cell.index, library_names).findings_in(cell.tree)
    return findings


def _library_names(cells: list[CellCode]) -> set[str]:
    """Names bound by imports anywhere, and every name the locked setup cell binds (checks, tf, keras ...)."""
    names = set()
    for cell in cells:
        for node in ast.walk(cell.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {_alias_name(alias) for alias in node.names}
            elif cell.locked_setup and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _alias_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


class _TamperScan:
    """Every node of a cell, parents before children (ast.walk), each checked by its visit_ method."""

    def __init__(self, cell: int, library_names: set[str]):
        self.cell, self.library_names = cell, library_names
        self.findings: list[Finding] = []
        self.allowed_shell_uses: set[int] = set()

    def findings_in(self, tree: ast.Module) -> list[Finding]:
        for node in ast.walk(tree):
            check = getattr(self, f"visit_{type(node).__name__}", None)
            if check is not None:
                check(node)
        return self.findings

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.cell, getattr(node, "lineno", 0), what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag(node, "imports relative to the submission's folder")
        if module not in ALLOWED_IMPORTS:
            self._check_module(node, module)
        if module == "sys":
            for alias in node.names:
                if alias.name in SYS_INTERNALS:
                    self.flag(node, f"imports sys.{alias.name}")

    def _check_module(self, node: ast.AST, module: str) -> None:
        if module.split(".")[0] in TAMPER_MODULES:
            self.flag(node, f"imports {module}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in TAMPER_BUILTINS:
            self.flag(node, f"uses {node.id}")
        elif node.id == "get_ipython" and id(node) not in self.allowed_shell_uses:
            self.flag(node, "uses get_ipython() beyond running ordinary magics")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in INTERNAL_ATTRIBUTES:
            self.flag(node, f"reads {node.attr} (another object's internals)")
        if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in SYS_INTERNALS:
            self.flag(node, f"uses sys.{node.attr}")
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _root_name(node) in self.library_names:
            self.flag(node, f"changes {_dotted(node)}, part of a library or of the checks")

    def visit_Call(self, node: ast.Call) -> None:
        self._allow_ordinary_magic(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") and len(node.args) > 1:
            name = node.args[1]
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)) or \
                    name.value in INTERNAL_ATTRIBUTES:
                self.flag(node, f"reads an attribute through {node.func.id} with a computed or internal name")
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value):
                self.flag(node, "loads pickles (allow_pickle)")

    def _allow_ordinary_magic(self, node: ast.Call) -> None:
        """get_ipython().run_line_magic('matplotlib', ...) and the like: what %magic and !shell lines become."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr in SHELL_CALLS and isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"):
            return
        is_magic = func.attr in ("run_line_magic", "run_cell_magic")
        first = node.args[0] if node.args else None
        self.allowed_shell_uses.add(id(func.value.func))  # flagged here, if at all: once
        if is_magic and not (isinstance(first, ast.Constant) and first.value in SAFE_MAGICS):
            name = first.value if isinstance(first, ast.Constant) else "a computed"
            self.flag(node, f"uses the %{name} magic, which runs code the grader cannot read")


# ---------------------------------------------------------------------------------------------------------
# From scratch: what a graded function reaches by name.
# ---------------------------------------------------------------------------------------------------------

@dataclass
class _Site:
    """A module-level statement of a cell, and the names it binds or changes."""

    cell: int
    node: ast.stmt
    binds: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)


def _sites(cells: list[CellCode]) -> list[_Site]:
    sites = []
    for cell in cells:
        for statement in cell.tree.body:
            site = _Site(cell.index, statement)
            _collect_bindings(statement, site)
            sites.append(site)
    return sites


def _collect_bindings(statement: ast.stmt, site: _Site) -> None:
    for node in _walk_same_scope(statement):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            site.binds.add(node.name)
            site.binds |= {name for inner in ast.walk(node) if isinstance(inner, ast.Global) for name in inner.names}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            site.binds |= {_alias_name(alias) for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            site.binds.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            site.changes.add(_root_name(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            site.changes.add(_root_name(node.func))


def _walk_same_scope(node: ast.AST):
    """Nodes of a statement, not entering function, class or lambda bodies (their names are bound on call)."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        if not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(current))


class _Reach:
    """Follows a graded function through the names it uses to every statement that gives them a value.

    A finding names the library and, when it came through another name (tf, a helper), that name too.
    """

    def __init__(self, cells: list[CellCode], forbidden_calls: tuple[str, ...]):
        self.sites = _sites(cells)
        self.forbidden = tuple(forbidden_calls) + FILE_READERS
        self.imports = _import_targets(cells)
        self.bound = {name for site in self.sites for name in site.binds}
        self.seen_sites: set[int] = set()
        self.seen_names: set[str] = set()
        self.findings: list[Finding] = []

    def of_function(self, name: str, cell: int | None) -> list[Finding]:
        self.seen_names.add(name)
        for site in [s for s in self.sites if name in s.binds and (cell is None or s.cell == cell)]:
            self.scan(site, None)
        return self.findings

    def follow(self, name: str, entry: str) -> None:
        if name in self.seen_names:
            return
        self.seen_names.add(name)
        binding = [s for s in self.sites if name in s.binds]
        is_variable = not any(isinstance(s.node, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                                  ast.AsyncFunctionDef, ast.ClassDef)) for s in binding)
        changing = [s for s in self.sites if name in s.changes] if binding and is_variable else []
        for site in binding + changing:
            self.scan(site, entry)

    def scan(self, site: _Site, entry: str | None) -> None:
        if id(site.node) in self.seen_sites:
            return
        self.seen_sites.add(id(site.node))
        local = _local_names(site.node)
        for node in ast.walk(site.node):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._check_import(site.cell, node, entry)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
                if self._is_forbidden(node):
                    self._flag(site.cell, node, node.id, entry)
                self.follow(node.id, entry or node.id)
            elif isinstance(node, ast.Attribute) and _root_name(node) not in local and self._is_forbidden(node):
                self._flag(site.cell, node, _dotted(node), entry)

    def _is_forbidden(self, node: ast.Name | ast.Attribute) -> bool:
        """Whether the name or attribute chain resolves, through the notebook's imports, to a forbidden call."""
        return any(_matches(target, self.forbidden) for target in self._resolve(node))

    def _resolve(self, node: ast.AST) -> set[str]:
        """The qualified names node may stand for: np.pad -> numpy.pad; an unbound open -> builtins.open."""
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return set()
        roots = set(self.imports.get(node.id, ()))
        if node.id not in self.bound:
            roots.add(f"builtins.{node.id}")
        return {".".join([root, *attributes]) for root in roots}

    def _check_import(self, cell: int, node: ast.Import | ast.ImportFrom, entry: str | None) -> None:
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        for module in modules:
            if getattr(node, "level", 0) or module.split(".")[0] not in SCRATCH_MODULES or \
                    _matches(module, self.forbidden):
                self._flag(cell, node, module or "a relative import", entry)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _matches(f"{node.module}.{alias.name}", self.forbidden):
                    self._flag(cell, node, f"{node.module}.{alias.name}", entry)

    def _flag(self, cell: int, node: ast.AST, used: str, entry: str | None) -> None:
        what = f"uses {entry}, which comes from {used}" if entry and entry != used else f"uses {used}"
        finding = Finding(cell, getattr(node, "lineno", 0), what)
        if finding not in self.findings:
            self.findings.append(finding)


def _local_names(statement: ast.stmt) -> set[str]:
    """Names local to the scopes inside a statement: parameters, and names assigned in a function, lambda or
    comprehension (for a def, everything it assigns), minus names declared `global`."""
    scopes = [n for n in ast.walk(statement) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                               ast.ListComp, ast.SetComp, ast.DictComp,
                                                               ast.GeneratorExp))]
    names = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.arguments):
                names |= {a.arg for a in node.posonlyargs + node.args + node.kwonlyargs + [node.vararg, node.kwarg] if a}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node is not statement:
                names.add(node.id)
    declared_global = {name for node in ast.walk(statement) if isinstance(node, ast.Global) for name in node.names}
    return names - declared_global


def _matches(qualified: str, forbidden: tuple[str, ...]) -> bool:
    """Whether qualified is one of forbidden or inside one of them (scipy.signal.x inside scipy.signal)."""
    return any(qualified == f or qualified.startswith(f + ".") for f in forbidden)


def _import_targets(cells: list[CellCode]) -> dict[str, set[str]]:
    """Each name an import binds anywhere in the notebook -> what it stands for (np -> numpy, pad -> numpy.pad)."""
    targets: dict[str, set[str]] = {}
    for cell in cells:
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    targets.setdefault(name, set()).add(alias.name if alias.asname else name)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                for alias in node.names:
                    targets.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")
    return targets


def library_use(cells: list[CellCode], function: str, defined_in: int | None,
                forbidden_calls: tuple[str, ...]) -> list[Finding]:
    """What a from-scratch graded function reaches that it may not use (empty when it is NumPy only).

    forbidden_calls: qualified names ('numpy.pad'; 'scipy.signal' for everything in it).

    defined_in is the cell whose def was the function at test time (None: consider every definition).
    """
    return _Reach(cells, forbidden_calls).of_function(function, defined_in)
