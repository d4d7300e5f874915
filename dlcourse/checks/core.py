"""The machinery every exercise check shares.

An :class:`Exercise` describes one graded function: fixed, seeded input cases (public ones for the visible
check, others for the hidden tests), how to call the student's function on a case, and how to judge what it
returned against a trusted reference. Calling and judging are separate steps so that the student's outputs can
be turned into plain data (arrays and numbers) before anything compares them: the judge never touches an
object the student made.
"""
from __future__ import annotations

import builtins
import dis
import functools
import hashlib
import importlib
import inspect
import os
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

PUBLIC = "public"
HIDDEN = "hidden"

# Libraries a from-scratch exercise may not call: they contain the op the student re-implements.
# dlcourse itself is on the list: its checks hold the reference implementations.
LIBRARY_ROOTS = ("tensorflow", "keras", "tf_keras", "scipy", "sklearn", "skimage", "torch", "jax", "cv2", "dlcourse")


# The course's own code holds the reference implementations the checks compare answers with; answers may use
# dlcourse.environment (import_tensorflow is how notebooks get TensorFlow).
COURSE_CODE = ("dlcourse",)
COURSE_TOOLS = ("dlcourse.environment",)

# The hidden cases' random inputs are drawn from this secret when it is set (the instructor's, at grading);
# without it they come from the open default below, which anyone with the repository can reproduce.
HIDDEN_SECRET_VARIABLE = "DLCOURSE_HIDDEN_SECRET"
OPEN_HIDDEN_SEED = 100

GENERIC_WARNING_HINT = "a warning usually means overflow, division by zero or log(0): keep every step finite."

# Warnings raised from these packages' own files are about how the framework is used (deprecations, Keras'
# advice such as "do not pass input_shape= to a layer"), not about the student's numbers: they never fail a
# check. Numeric warnings (RuntimeWarning: overflow, divide by zero, invalid value) fail it wherever they come from.
FRAMEWORK_PACKAGES = ("keras", "tensorflow", "tf_keras", "absl", "google")

# Cross-entropies: an epsilon up to LOG_EPSILON in the logarithm, clipped (as Keras does) or added, is accepted.
LOG_EPSILON = 1e-7
LOG_EPSILON_NOTE = (f"a probability epsilon up to {LOG_EPSILON:g} in the logarithm (clipped as Keras does, or added) "
                    "passes")

# The last line of a failure shown in a notebook: Run All stops at the first failing check.
HOW_TO_GO_ON = ("(Run All stops at the first failing check. Fix the function, run its cell, then this one; to run "
                "the rest of the notebook meanwhile, select the next cell and use Run > Run Selected Cell and All "
                "Below.)")


class CheckFailure(AssertionError):
    """A check did not pass; the message shows input, expected, got and, where known, a hint."""

    def _render_traceback_(self) -> list[str]:
        """How IPython (Jupyter) shows a failed check: the message first, no frames of the checks; when the
        student's code raised, its traceback follows (the checks' own frames hidden by __tracebackhide__)."""
        lines = [f"{type(self).__name__}: {self}"]
        cause = self.__cause__
        shell = _ipython()
        if cause is not None and shell is not None:
            lines += ["", "Your code raised it here:"]
            lines += shell.InteractiveTB.structured_traceback(type(cause), cause, cause.__traceback__)
        return lines


def _ipython():
    """The running IPython shell, or None outside IPython."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return get_ipython() if get_ipython else None


@dataclass(frozen=True)
class Case:
    """One fixed input of a check: positional and keyword arguments of the graded function."""

    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer: what it would return on a case, and the hint to give when it matches."""

    hint: str
    wrong_output: Callable[[Case], Any]


@dataclass(frozen=True)
class Exercise:
    """A graded function and how to check it.

    cases:     which -> list of Case, deterministic (which is PUBLIC or HIDDEN).
    reference: Case -> expected output (plain arrays / numbers / tuples of them).
    call:      (functions by name, Case) -> raw output of the student's code.
    compare:   (expected, got plain) -> None, or a short reason why they differ.
    mistakes:  classic wrong answers recognised by their output; one is named only when it would have passed the
               cases before the failing one too (the student's answer did); each one that fits is named.
    from_scratch:    library ops (LIBRARY_ROOTS) may not be called; forbidden_calls adds NumPy functions that do
                     the whole job, by qualified name ('numpy.pad'): what the code calls is resolved, not its names.
    keeps_inputs:    the contract says the inputs are not modified; a call that changes one fails.
    integer_result:  the contract says the result is an int; a float (even 3.0) fails.
    """

    name: str
    cases: Callable[[str], list[Case]]
    reference: Callable[[Case], Any]
    compare: Callable[[Any, Any], str | None]
    call: Callable[[dict, Case], Any] | None = None
    mistakes: Sequence[Mistake] = ()
    needs: tuple[str, ...] = ()
    from_scratch: bool = True
    forbidden_calls: tuple[str, ...] = ()
    tolerance: str = ""
    warning_hint: str = ""
    keeps_inputs: bool = True
    integer_result: bool = False

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the student functions this check calls: the graded one first."""
        return (self.name, *self.needs)

    @property
    def forbidden_names(self) -> tuple[str, ...]:
        """The bare names of forbidden_calls ('pad' for 'numpy.pad'), for rules that read source text."""
        return tuple(qualified.rsplit(".", 1)[-1] for qualified in self.forbidden_calls)


def hidden_seed() -> int:
    """Seed of the hidden cases: derived from $DLCOURSE_HIDDEN_SECRET when set, else OPEN_HIDDEN_SEED."""
    secret = os.environ.get(HIDDEN_SECRET_VARIABLE, "")
    if not secret:
        return OPEN_HIDDEN_SEED
    return int.from_bytes(hashlib.sha256(secret.encode()).digest()[:8], "big")


def case_rng(module: int, which: str, salt: int) -> np.random.Generator:
    """Random generator for one check's cases: public ones fixed, hidden ones from hidden_seed().

    module -- the module's number (keeps the modules' streams apart); salt -- one per check.
    """
    first = (hidden_seed(), module) if which == HIDDEN else (module,)
    return np.random.default_rng((*first, salt))


# ---------------------------------------------------------------------------------------------------------
# Plain data: what student outputs become before they are judged.
# ---------------------------------------------------------------------------------------------------------

def to_plain(value: Any) -> Any:
    """Turn an output into plain data: float64 arrays, Python scalars, tuples of those.

    Raises TypeError for anything that is not numbers (objects, strings, None), so that a returned object
    with a doctored ``__eq__`` is never compared.
    """
    if isinstance(value, (tuple, list)) and value and not _is_numeric_sequence(value):
        return tuple(to_plain(v) for v in value)
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"returned {_describe_type(value)}, expected numbers or an array of numbers")
    if hasattr(value, "numpy") and callable(value.numpy):  # a TensorFlow tensor the student returned
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == object:
        return _numbers_of_object_array(value, array)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"returned {_describe_type(value)}, expected numbers or an array of numbers")
    return np.array(array, dtype=np.float64)


def _numbers_of_object_array(value: Any, array: np.ndarray) -> np.ndarray:
    """An object array whose items are all plain real numbers (np.frompyfunc makes those) as float64."""
    items = array.ravel().tolist()
    if items and all(_is_plain_number(item) for item in items):
        return np.array([float(item) for item in items], dtype=np.float64).reshape(array.shape)
    kinds = sorted({type(item).__name__ for item in items if not _is_plain_number(item)})
    raise TypeError(f"returned {_describe_type(value)} of dtype object (items of type {', '.join(kinds) or 'none'}), "
                    "expected numbers: return an array of numbers")


def _is_plain_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _is_numeric_sequence(value: Sequence) -> bool:
    return all(_is_plain_number(v) for v in value)


def _describe_type(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"


# ---------------------------------------------------------------------------------------------------------
# Comparisons with stated tolerances.
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Between:
    """An expected number that may be anything from low to high (a reference side value, never student data),
    e.g. a loss whose epsilon in the logarithm is the student's choice; the exercise's tolerance says why."""

    low: float
    high: float

    def __repr__(self) -> str:
        low, high = f"{self.low:.6g}", f"{self.high:.6g}"
        return low if low == high else f"{low} to {high}"


def log_loss_between(true_class_probs: np.ndarray, epsilon: float = LOG_EPSILON) -> Between:
    """The mean -log(p) of the true classes' probabilities p (N,), float64, with and without an epsilon.

    The bounds run over the exact loss and the losses with p clipped to [epsilon, 1 - epsilon] or with
    log(p + epsilon): any of those implementations is correct.
    """
    p = np.asarray(true_class_probs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        variants = [-np.mean(np.log(v)) for v in (p, np.clip(p, epsilon, 1 - epsilon), p + epsilon)]
    finite = [float(v) for v in variants if np.isfinite(v)]
    return Between(min(finite), max(finite))


def _within(expected: Between, got: np.ndarray, rtol: float, atol: float) -> str | None:
    if got.shape != ():
        return f"shape {got.shape} differs from the expected () (one number)"
    value = float(got)
    low = expected.low - atol - rtol * abs(expected.low)
    high = expected.high + atol + rtol * abs(expected.high)
    if not low <= value <= high:
        return f"values differ ({value:.6g} is outside {low:.6g} ... {high:.6g}: tolerance rtol={rtol:g}, atol={atol:g})"
    return None


def close_arrays(rtol: float, atol: float) -> Callable[[Any, Any], str | None]:
    """A comparison for one array: same shape, all values within rtol/atol, no NaN (or a number within a Between)."""

    def compare(expected: Any, got: Any) -> str | None:
        if isinstance(got, tuple):
            return f"expected one array, got a tuple of {len(got)}"
        if isinstance(expected, Between):
            return _within(expected, got, rtol, atol)
        expected = np.asarray(expected, dtype=np.float64)
        if got.shape != expected.shape:
            return f"shape {got.shape} differs from the expected {expected.shape}"
        if np.isnan(got).any() and not np.isnan(expected).any():
            return "the result contains NaN"
        if not np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
            difference = np.abs(got - expected)
            finite = difference[np.isfinite(difference)]
            worst = finite.max() if finite.size else np.inf
            return f"values differ (largest difference {worst:.3g}; tolerance rtol={rtol:g}, atol={atol:g})"
        return None

    return compare


def close_tuple(*parts: Callable[[Any, Any], str | None], labels: Sequence[str]) -> Callable[[Any, Any], str | None]:
    """A comparison for a tuple of outputs, each with its own comparison; labels name the parts."""

    def compare(expected: Any, got: Any) -> str | None:
        if not isinstance(got, tuple) or len(got) != len(parts):
            count = len(got) if isinstance(got, tuple) else 1
            return f"expected a tuple of {len(parts)} ({', '.join(labels)}), got {count} value(s)"
        for label, part, exp, value in zip(labels, parts, expected, got):
            reason = part(exp, value)
            if reason:
                return f"{label}: {reason}"
        return None

    return compare


def accuracy_at_least(threshold: float, below: Callable[[float], str]) -> Callable[[Any, Any], str | None]:
    """A comparison of predicted labels got (N,) with the true labels expected (N,): None when at least the
    fraction threshold of them agree, else below(accuracy), the reason (what the accuracy means, what to try)."""

    def compare(expected: Any, got: Any) -> str | None:
        expected = np.asarray(expected)
        if isinstance(got, tuple) or np.shape(got) != expected.shape:
            return f"expected {expected.shape[0]} predicted labels"
        accuracy = float(np.mean(got == expected))
        return None if accuracy >= threshold else below(accuracy)

    return compare


# ---------------------------------------------------------------------------------------------------------
# From-scratch rule.
# ---------------------------------------------------------------------------------------------------------

def library_calls(fn: Callable, forbidden_calls: Sequence[str] = ()) -> list[str]:
    """What fn (and the helper functions it calls) reaches of a library the exercise re-implements.

    Decided by the objects the code refers to, resolved in the function's namespace: ``np.pad`` is the
    function numpy.pad wherever it is written, while a helper of the student's own named ``convolve`` (scanned
    in turn) or an attribute ``self.pad`` is not a library. Found: anything from LIBRARY_ROOTS (``tf.nn.conv2d``,
    ``scipy.signal.convolve2d``, keras layers, imports of those) and the functions named in forbidden_calls
    (qualified, e.g. 'numpy.pad'), also when fn is one of them or holds one as a default argument or in a
    closure. Returns the expressions as written, e.g. ['np.pad'].
    """
    forbidden = [obj for obj in map(_resolve_qualified, forbidden_calls) if obj is not None]

    def is_library(reference: Reference) -> bool:
        return ((reference.imported and _under(reference.text, LIBRARY_ROOTS))
                or any(_under(_module_of(value), LIBRARY_ROOTS) for value in reference.values)
                or any(value is obj for value in reference.values for obj in forbidden))

    return references_found(fn, is_library)


def calls_into(fn: Callable, prefixes: Sequence[str], allowed: Sequence[str] = (),
               names: Sequence[str] = ()) -> list[str]:
    """What fn (and the helper functions it calls) reaches of the modules named by prefixes, e.g. the course's
    reference implementations ('dlcourse.quality') that a check compares the student's answer with.

    The same walk as library_calls: a reference counts when the object it resolves to (or one on its way:
    ``ml`` in ``ml.triplet_loss``) lives in a module under one of prefixes, and also when fn itself is such an
    object, or holds one as a default argument or in a closure. A reference whose deepest object lives under
    allowed does not count (``dlcourse.environment.import_tensorflow`` under the prefix 'dlcourse'). names are
    bare attribute or global names that count wherever they stand, even on objects the walk cannot resolve
    ('applications' for keras.applications). Returns the expressions as written, e.g. ['ml.triplet_loss'].
    """

    def is_into(reference: Reference) -> bool:
        if reference.in_code and any(part in names for part in reference.text.split(".")):
            return True
        modules = [_module_of(value) for value in reversed(reference.values)]
        if reference.imported:
            modules.insert(0, reference.text)
        if modules and _under(modules[0], allowed):
            return False
        return any(_under(module, prefixes) for module in modules)

    return references_found(fn, is_into)


def course_code_calls(fn: Callable) -> list[str]:
    """What fn (and the helper functions it calls) reaches of the course's own code, dlcourse.environment aside."""
    return calls_into(fn, COURSE_CODE, allowed=COURSE_TOOLS)


@dataclass(frozen=True)
class Reference:
    """One thing a function refers to: the expression as written, whether it names an import (then the text is
    a module path: 'numpy.pad' for ``from numpy import pad``), the objects each prefix of it resolves to, and
    whether the text stands in the code (else it is the qualified name of an object the function holds)."""

    text: str
    imported: bool
    values: tuple
    in_code: bool = True


def references_found(fn: Callable, counts: Callable[[Reference], bool]) -> list[str]:
    """The texts of the references of fn, and of the helper functions it calls, for which counts is true (the
    longest of each import: 'numpy.pad', not also 'numpy').

    fn itself counts as a reference (a library function passed as the answer), and so do the values of its
    default arguments and closure cells, and the names the walk cannot resolve (an attribute of an object made
    at run time), taken for the global of that name where there is one. Helpers are the functions and classes
    of fn's own module that it refers to (the notebook's, in a check): they, and the classes' methods, are
    scanned in turn, whatever their names.
    """
    found: set[str] = set()
    itself = Reference(_qualified_name(fn), False, (fn,), in_code=False)
    if counts(itself):
        return [itself.text]
    seen: set[int] = set()
    for part in _answer_parts(fn):
        reference = Reference(_qualified_name(part), False, (part,), in_code=False)
        if counts(reference):
            found.add(reference.text)
        else:
            _scan_function(part, counts, found, seen)
    return sorted(text for text in found if not any(other.startswith(f"{text}.") for other in found))


def _answer_parts(fn: Callable) -> list:
    """What calling fn runs, unwrapped: fn, and in turn the function and callable arguments of a
    functools.partial, the function of a np.vectorize, the function and object of a bound method (also of one
    written in C, such as expit.__call__), and the methods of the class of any other callable object (its
    __call__ and what that calls)."""
    parts, pending, seen = [], [fn], set()
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        parts.append(value)
        try:
            pending += _wrapped_callables(value)
        except Exception:  # a student's object that refuses to be looked at is scanned as it is
            continue
    return parts


def _wrapped_callables(value: Any) -> list:
    """The callables one wrapper layer of value runs (see _answer_parts); [] for a plain function or class."""
    kind = type(value)
    if issubclass(kind, functools.partial):
        return [v for v in (value.func, *value.args, *value.keywords.values()) if callable(v)]
    if issubclass(kind, np.vectorize):
        return [value.pyfunc]
    if issubclass(kind, types.MethodType):
        return [value.__func__, value.__self__]
    if issubclass(kind, (types.MethodWrapperType, types.BuiltinMethodType)):  # expit.__call__, obj.method in C
        owner = value.__self__
        return [] if owner is None or issubclass(type(owner), types.ModuleType) else [owner]
    if callable(value) and not issubclass(kind, (types.FunctionType, type, types.BuiltinFunctionType, np.ufunc)):
        return _own_functions(kind, kind.__module__)
    return []


def _scan_function(fn: Callable, counts: Callable[[Reference], bool], found: set[str], seen: set[int]) -> None:
    try:
        fn = inspect.unwrap(fn)
        code = getattr(fn, "__code__", None)
    except Exception:  # a student's object that refuses: nothing of it to scan (its class's methods still are)
        return
    if code is None or id(code) in seen:
        return
    seen.add(id(code))
    namespace = getattr(fn, "__globals__", {})
    chains = _reference_chains(code)
    references = [Reference(".".join(chain), imported, tuple(_resolve_chain(imported, chain, namespace)))
                  for imported, chain in chains]
    references += [Reference(_qualified_name(value), False, (value,), in_code=False) for value in _bound_values(fn)]
    written = {part for _, chain in chains for name in chain for part in name.split(".")}
    references += [Reference(name, False, (namespace[name],) if name in namespace else ())
                   for name in _code_names(code) - written]
    for reference in references:
        if counts(reference):
            found.add(reference.text)
        elif reference.values:
            for helper in _own_functions(reference.values[-1], fn.__module__):
                _scan_function(helper, counts, found, seen)


def _own_functions(value: Any, module: str) -> list[Callable]:
    """The functions to scan behind a value of the module: itself if it is a function (or a static or class
    method), a class's own methods."""
    if isinstance(value, type) and value.__module__ == module:
        members = [_function_of(member) for member in vars(value).values()]
        members += [accessor for member in members if isinstance(member, property)
                    for accessor in (member.fget, member.fset, member.fdel)]
        return [member for member in members if isinstance(member, types.FunctionType)]
    value = _function_of(value)
    return [value] if isinstance(value, types.FunctionType) and value.__module__ == module else []


def _function_of(member: Any) -> Any:
    """The function a staticmethod or classmethod wraps; any other value as it is."""
    return member.__func__ if isinstance(member, (staticmethod, classmethod)) else member


def _bound_values(fn: Callable) -> list:
    """The objects a function holds besides its code: default argument values and closure cells' contents."""
    values = list(getattr(fn, "__defaults__", None) or ()) + list((getattr(fn, "__kwdefaults__", None) or {}).values())
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet
            continue
    return values


def _code_names(code: types.CodeType) -> set[str]:
    """Global and attribute names of a code object and its nested ones, also those on unresolvable objects."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _resolve_qualified(qualified: str) -> Any:
    module, _, attribute = qualified.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return None


ATTRIBUTE_LOADS = ("LOAD_ATTR", "LOAD_METHOD")


def _reference_chains(code: types.CodeType) -> set[tuple[bool, tuple[str, ...]]]:
    """Dotted references of a code object and its nested ones, as (imported, names): (False, ('np', 'pad')) for
    np.pad, (True, ('numpy', 'pad')) for ``from numpy import pad`` (or a local ``import numpy`` and then
    ``numpy.pad``), (True, ('scipy.signal',)) for an import. Attributes of other local variables (``self.pad``)
    are not references to anything global."""
    chains, current, module, imported_locals = set(), None, None, {}
    instructions = list(dis.get_instructions(code))
    for instruction, following in zip(instructions, instructions[1:] + [None]):
        name, opname = str(instruction.argval), instruction.opname
        if opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            current = (False, (name,))
        elif opname in ("LOAD_FAST", "LOAD_DEREF") and name in imported_locals:
            current = (True, imported_locals[name])
        elif opname in ATTRIBUTE_LOADS and current is not None:
            current = (current[0], (*current[1], name))
        elif opname == "IMPORT_NAME":
            module, current = name, (True, (name,))
        elif opname == "IMPORT_FROM" and module is not None:  # `import a.b as c` reads b from a.b
            current = (True, (module,) if module.endswith(f".{name}") else (module, name))
        elif opname in ("STORE_FAST", "STORE_DEREF") and current is not None and current[0]:
            imported_locals[name] = current[1]
            current = None
        else:
            current = None
        if current is not None and (following is None or following.opname not in ATTRIBUTE_LOADS):
            chains.add(current)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            chains |= _reference_chains(const)
    return chains


def _resolve_chain(imported: bool, chain: tuple[str, ...], namespace: dict) -> list:
    """The objects each prefix of a reference stands for (np, np.pad); they stop where one cannot be resolved
    without running the student's code."""
    first = chain[0]
    value = sys.modules.get(first) if imported else namespace.get(first, getattr(builtins, first, None))
    values = [] if value is None else [value]
    for attribute in chain[1:]:
        if not values:
            break
        try:  # modules by getattr (NumPy loads some submodules lazily), other objects without running them
            values.append(getattr(values[-1], attribute) if isinstance(values[-1], types.ModuleType)
                          else inspect.getattr_static(values[-1], attribute))
        except Exception:  # an attribute that does not exist, or a student's object that refuses
            break
    return values


def _module_of(value: Any) -> str:
    """The module a value lives in ('numpy' for np.pad, its own name for a module, 'scipy.special' for the ufunc
    expit, which does not say); '' when it says none."""
    try:
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
    except Exception:  # a student's object that refuses
        return ""
    if not module and isinstance(value, np.ufunc):
        return _exporting_module(value)
    return module if isinstance(module, str) else ""


def _exporting_module(ufunc: np.ufunc) -> str:
    """The shallowest loaded library module (under LIBRARY_ROOTS, the course's code aside) whose namespace holds
    ufunc under its own name, e.g. 'scipy.special' for expit; '' if none. A ufunc made outside NumPy has no
    __module__. Namespaces are read directly, so that looking never loads a lazily loaded package."""
    libraries = [root for root in LIBRARY_ROOTS if root not in COURSE_CODE]
    holders = [name for name, module in list(sys.modules.items())
               if _under(name, libraries) and isinstance(getattr(module, "__dict__", None), dict)
               and module.__dict__.get(ufunc.__name__) is ufunc]
    return min(holders, key=lambda name: (name.count("."), name), default="")


def _qualified_name(value: Any) -> str:
    """How a referenced object is named in a message: 'numpy.pad', a module's name, or its type."""
    if issubclass(type(value), types.ModuleType):  # type(), not isinstance: a student's object may lie about __class__
        return value.__name__
    try:
        qualname = value.__name__ if issubclass(type(value), np.ufunc) else getattr(value, "__qualname__", None)
    except Exception:  # a student's object that refuses
        qualname = None
    if not isinstance(qualname, str):
        return _describe_type(value)
    module = _module_of(value)
    return f"{module}.{qualname}" if module else qualname


def _under(module: str, prefixes: Sequence[str]) -> bool:
    """Whether a dotted module name is one of prefixes or inside one ('keras.src.layers' under 'keras')."""
    return any(module == prefix or module.startswith(f"{prefix}.") for prefix in prefixes)


# ---------------------------------------------------------------------------------------------------------
# Running a check.
# ---------------------------------------------------------------------------------------------------------

def call_student(exercise: Exercise, functions: dict, case: Case) -> Any:
    """Run the student's code on one case (copies of the inputs); CheckFailure if it raises, warns about its
    numbers, changes an input it must keep, or returns a non-integer where the contract says an int."""
    __tracebackhide__ = True  # IPython and pytest show the student's frames, not the checks'
    case_copy = Case(case.name, tuple(_copy(a) for a in case.args), {k: _copy(v) for k, v in case.kwargs.items()})
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            result = exercise.call(functions, case_copy) if exercise.call else functions[exercise.name](
                *case_copy.args, **case_copy.kwargs)
        except NotImplementedError:
            raise CheckFailure(
                f"{exercise.name} is not implemented yet: replace `raise NotImplementedError()` in its cell "
                "with your code, run that cell, then run this check again."
            ) from None
        except Exception as err:
            raise CheckFailure(
                f"{exercise.name} raised {type(err).__name__} on the check '{case.name}'.\n"
                f"  error:    {type(err).__name__}: {err}\n{_describe_case(case)}\n"
                "  (the traceback of your code is shown with this message)"
            ) from err
    numeric = [w for w in caught if counts_as_numeric(w)]
    if numeric:
        first = numeric[0]
        raise CheckFailure(
            f"{exercise.name} emitted a warning on the check '{case.name}'.\n"
            f"  warning:  {first.category.__name__}: {first.message}\n"
            f"{_describe_case(case)}\n  hint: {exercise.warning_hint or GENERIC_WARNING_HINT}\n"
            "  (warnings go to stderr, and a graded cell that writes to stderr scores zero)"
        )
    if exercise.keeps_inputs:
        _reject_changed_inputs(exercise, case, case_copy)
    if exercise.integer_result:
        _reject_non_integer(exercise, case, result)
    return result


def counts_as_numeric(warning: warnings.WarningMessage) -> bool:
    """Whether a caught warning fails a check: numeric ones always; other user warnings unless a framework
    (FRAMEWORK_PACKAGES) raised them from its own files; deprecations never."""
    if issubclass(warning.category, RuntimeWarning):
        return True
    if not issubclass(warning.category, UserWarning):
        return False
    parts = os.path.normpath(str(warning.filename)).split(os.sep)
    return not any(package in parts for package in FRAMEWORK_PACKAGES)


def _copy(value: Any) -> Any:
    """A copy of the arrays in a value (also inside dicts, lists and tuples); anything else as it is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_copy(v) for v in value)
    return value


def _changed_arrays(original: Any, after: Any, where: str) -> list[str]:
    """Where the arrays of after differ from those of original (same structure, as _copy makes it)."""
    if isinstance(original, np.ndarray):
        same = (isinstance(after, np.ndarray) and after.shape == original.shape
                and np.array_equal(after, original, equal_nan=original.dtype.kind in "fc"))
        return [] if same else [where]
    if isinstance(original, dict) and isinstance(after, dict):
        return [w for k in original for w in _changed_arrays(original[k], after.get(k), f"{where}[{k!r}]")]
    if isinstance(original, (list, tuple)) and isinstance(after, (list, tuple)) and len(after) == len(original):
        return [w for i, (o, a) in enumerate(zip(original, after)) for w in _changed_arrays(o, a, f"{where}[{i}]")]
    return []


def _reject_changed_inputs(exercise: Exercise, case: Case, case_copy: Case) -> None:
    __tracebackhide__ = True
    changed = [w for i, (o, a) in enumerate(zip(case.args, case_copy.args))
               for w in _changed_arrays(o, a, f"input {i + 1}")]
    changed += [w for k in case.kwargs for w in _changed_arrays(case.kwargs[k], case_copy.kwargs[k], k)]
    if changed:
        raise CheckFailure(
            f"{exercise.name} changed its input in place on the check '{case.name}'.\n"
            f"  changed:  {', '.join(changed)} (counting the arguments from 1)\n{_describe_case(case)}\n"
            "  hint: the caller still needs its arrays, so the contract says inputs are not modified: compute "
            "the result in a new array (np.maximum(x, 0), x * mask, or out = x.copy() before changing out)."
        )


def _reject_non_integer(exercise: Exercise, case: Case, result: Any) -> None:
    __tracebackhide__ = True
    integral = isinstance(result, (int, np.integer)) or (
        isinstance(result, np.ndarray) and result.ndim == 0 and result.dtype.kind in "iu")
    if not integral or isinstance(result, (bool, np.bool_)):
        raise CheckFailure(
            f"{exercise.name} returned {_describe_type(result)}, not an int, on the check '{case.name}'.\n"
            f"  got:      {result!r}\n{_describe_case(case)}\n"
            "  hint: the contract says an int (a size or a count): compute with integers (// rounds down and "
            "stays an int), or convert at the end with int(...). np.floor returns a float."
        )


def judge(exercise: Exercise, case: Case, raw_output: Any) -> None:
    """Compare one raw output with the reference; raise CheckFailure with input, expected, got, hint.

    The cases before this one (public ones first) are taken to have passed, as every caller stops at the first
    failing case: a classic mistake is named only when it would have passed those too.
    """
    __tracebackhide__ = True
    expected = exercise.reference(case)
    try:
        got = to_plain(raw_output)
    except TypeError as err:
        raise CheckFailure(f"{exercise.name} {err}.\n{_describe_case(case)}") from None
    reason = exercise.compare(expected, got)
    if reason is None:
        return
    hints = _recognise_mistakes(exercise, case, got)
    lines = [
        f"{exercise.name} gives a wrong result on the check '{case.name}'.",
        f"  why:      {reason}",
        _describe_case(case),
        f"  expected: {_short(expected)}",
        f"  got:      {_short(got)}",
    ]
    if exercise.tolerance:
        lines.append(f"  tolerance: {exercise.tolerance}")
    if hints:
        lines.append("  hint: " + "\n  or perhaps: ".join(hints))
    raise CheckFailure("\n".join(lines))


def _cases_before(exercise: Exercise, case: Case) -> list[Case]:
    """The cases a check runs before this one (by name): public ones, then hidden ones."""
    earlier: list[Case] = []
    for which in (PUBLIC, HIDDEN):
        for other in exercise.cases(which):
            if other.name == case.name:
                return earlier
            earlier.append(other)
    return []


def _recognise_mistakes(exercise: Exercise, case: Case, got: Any) -> list[str]:
    """The hints of the mistakes whose output matches got here and that would have passed the earlier cases,
    in the order the exercise lists them, each once (several when one output fits several mistakes)."""
    hints: list[str] = []
    for mistake in exercise.mistakes:
        if mistake.hint in hints:
            continue
        try:
            wrong = to_plain(mistake.wrong_output(case))
            with np.errstate(all="ignore"):
                if exercise.compare(wrong, got) is None and all(
                        _passes(exercise, mistake, earlier) for earlier in _cases_before(exercise, case)):
                    hints.append(mistake.hint)
        except (TypeError, ValueError, FloatingPointError, ZeroDivisionError):
            continue
    return hints


def _passes(exercise: Exercise, mistake: Mistake, case: Case) -> bool:
    """Whether the mistake's output on case passes the check (so a student making it would have got past it);
    True when the mistake has no output there (its model does not apply to that case)."""
    try:
        return exercise.compare(exercise.reference(case), to_plain(mistake.wrong_output(case))) is None
    except (TypeError, ValueError, FloatingPointError, ZeroDivisionError):
        return True


def _describe_case(case: Case) -> str:
    parts = [_short(a) for a in case.args] + [f"{k}={_short(v)}" for k, v in case.kwargs.items()]
    return "  input:    " + (", ".join(parts) or "(no arguments: the defaults)")


def _array_text(value: np.ndarray) -> str:
    text = np.array2string(value, precision=4, threshold=12, edgeitems=2, max_line_width=100, suppress_small=False)
    return text.replace("\n", "\n            ")


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, np.ndarray) and value.ndim >= 3 and value.size:
        index = (0,) * (value.ndim - 3) + (slice(None), slice(None), 0)
        where = ", ".join(["0"] * (value.ndim - 3) + [":", ":", "0"])
        return (f"an array of shape {value.shape}, values in [{value.min():.4g}, {value.max():.4g}]; "
                f"[{where}] =\n            {_array_text(value[index])}")
    if isinstance(value, np.ndarray):
        return f"{_array_text(value)} (shape {value.shape})" if value.ndim else _array_text(value)
    if callable(value):
        return getattr(value, "__name__", "a function")
    return repr(value)


def run_check(exercise: Exercise, functions: dict, which: str = PUBLIC) -> int:
    """Run every case of one kind; raise CheckFailure at the first wrong one. Returns the case count."""
    __tracebackhide__ = True
    if exercise.from_scratch:
        reject_library_calls(exercise, functions[exercise.name])
    cases = exercise.cases(which)
    for case in cases:
        judge(exercise, case, call_student(exercise, functions, case))
    return len(cases)


def reject_library_calls(exercise: Exercise, fn: Callable) -> None:
    """CheckFailure when a from-scratch function calls the library op it should re-implement."""
    __tracebackhide__ = True
    calls = library_calls(fn, exercise.forbidden_calls)
    if calls:
        raise CheckFailure(
            f"{exercise.name} uses {', '.join(calls)}, a library implementation.\n"
            "  why:      this exercise builds the operation from scratch with NumPy, so library implementations "
            "earn no points.\n  hint: remove those calls (the library versions are what the checks compare you "
            "with); your own helper functions are fine, whatever their names."
        )


def report_passed(exercise: Exercise, counts: dict[str, int]) -> None:
    """Print the success line: which checks passed and that hidden tests run at grading."""
    done = ", ".join(f"{n} {which}" for which, n in counts.items())
    total = sum(counts.values())
    hidden_note = "" if HIDDEN in counts else " More hidden tests run at grading."
    print(f"✔ {exercise.name}: {'the' if total == 1 else 'all'} {done} check{'' if total == 1 else 's'} passed."
          f"{hidden_note}")


def checker(exercise: Exercise) -> Callable[..., None]:
    """Build the function a notebook's test cell calls, e.g. ``check_sigmoid(sigmoid)``.

    The returned function takes the student's functions (graded one first, then the ones it needs) and
    ``hidden=True`` in the hidden-test part of a cell. It returns None: a test cell's value would otherwise
    be read by nbgrader as partial credit.
    """

    def check(*functions: Callable, hidden: bool = False) -> None:
        __tracebackhide__ = True
        if len(functions) != len(exercise.function_names):
            raise TypeError(f"check_{exercise.name} takes the functions "
                            f"{', '.join(exercise.function_names)} (in that order)")
        by_name = dict(zip(exercise.function_names, functions))
        which = HIDDEN if hidden else PUBLIC
        try:
            count = run_check(exercise, by_name, which)
        except CheckFailure as failure:
            failure.args = (f"{failure}\n{HOW_TO_GO_ON}",)
            raise
        report_passed(exercise, {which: count})

    check.__name__ = f"check_{exercise.name}"
    check.__qualname__ = check.__name__
    check.__doc__ = (f"Check {', '.join(exercise.function_names)} on fixed inputs; raises AssertionError "
                     "with input, expected, got and a hint when a result is wrong.")
    check.exercise = exercise
    return check
