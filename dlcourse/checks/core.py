"""The machinery every exercise check shares.

An :class:`Exercise` describes one graded function: fixed, seeded input cases (public ones for the visible
check, others for the hidden tests), how to call the student's function on a case, and how to judge what it
returned against a trusted reference. Calling and judging are separate steps so that the student's outputs can
be turned into plain data (arrays and numbers) before anything compares them: the judge never touches an
object the student made.
"""
from __future__ import annotations

import dis
import hashlib
import inspect
import os
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


# The hidden cases' random inputs are drawn from this secret when it is set (the instructor's, at grading);
# without it they come from the open default below, which anyone with the repository can reproduce.
HIDDEN_SECRET_VARIABLE = "DLCOURSE_HIDDEN_SECRET"
OPEN_HIDDEN_SEED = 100

GENERIC_WARNING_HINT = "a warning usually means overflow, division by zero or log(0): keep every step finite."


class CheckFailure(AssertionError):
    """A check did not pass; the message shows input, expected, got and, where known, a hint."""


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
    mistakes:  classic wrong answers recognised by their output.
    """

    name: str
    cases: Callable[[str], list[Case]]
    reference: Callable[[Case], Any]
    compare: Callable[[Any, Any], str | None]
    call: Callable[[dict, Case], Any] | None = None
    mistakes: Sequence[Mistake] = ()
    needs: tuple[str, ...] = ()
    from_scratch: bool = True
    forbidden_names: tuple[str, ...] = ()
    tolerance: str = ""
    warning_hint: str = ""

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the student functions this check calls: the graded one first."""
        return (self.name, *self.needs)


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
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"returned {_describe_type(value)}, expected numbers or an array of numbers")
    return np.array(array, dtype=np.float64)


def _is_numeric_sequence(value: Sequence) -> bool:
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value)


def _describe_type(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"


# ---------------------------------------------------------------------------------------------------------
# Comparisons with stated tolerances.
# ---------------------------------------------------------------------------------------------------------

def close_arrays(rtol: float, atol: float) -> Callable[[Any, Any], str | None]:
    """A comparison for one array: same shape, all values within rtol/atol, no NaN."""

    def compare(expected: Any, got: Any) -> str | None:
        if isinstance(got, tuple):
            return f"expected one array, got a tuple of {len(got)}"
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


# ---------------------------------------------------------------------------------------------------------
# From-scratch rule.
# ---------------------------------------------------------------------------------------------------------

def library_calls(fn: Callable, forbidden_names: Sequence[str] = ()) -> list[str]:
    """Names in fn (and the helper functions it calls) that reach a library the exercise re-implements."""
    found: list[str] = []
    _scan_function(fn, tuple(forbidden_names), found, seen=set())
    return sorted(set(found))


def _scan_function(fn: Callable, forbidden: tuple[str, ...], found: list[str], seen: set[int]) -> None:
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None or id(code) in seen:
        return
    seen.add(id(code))
    namespace = getattr(fn, "__globals__", {})
    for name in _referenced_names(code):
        value = namespace.get(name)
        if _is_library_object(name, value) or name in forbidden:
            found.append(name)
        elif isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
            _scan_function(value, forbidden, found, seen)


def _referenced_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            names.add(str(instruction.argval))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _referenced_names(const)
    return names


def _is_library_object(name: str, value: Any) -> bool:
    if name.split(".")[0] in LIBRARY_ROOTS:
        return True
    if value is None:
        return False
    module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "") or ""
    return module.split(".")[0] in LIBRARY_ROOTS


# ---------------------------------------------------------------------------------------------------------
# Running a check.
# ---------------------------------------------------------------------------------------------------------

def call_student(exercise: Exercise, functions: dict, case: Case) -> Any:
    """Run the student's code on one case (copies of the inputs); CheckFailure if it raises or warns."""
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
                f"{exercise.name} raised {type(err).__name__}: {err} (on the check '{case.name}')\n"
                f"{_describe_case(case)}\n  (the full traceback of your code is shown above this message)"
            ) from err
    numeric = [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
    if numeric:
        first = numeric[0]
        raise CheckFailure(
            f"{exercise.name} emitted a warning on the check '{case.name}': {first.category.__name__}: {first.message}\n"
            f"{_describe_case(case)}\n  hint: {exercise.warning_hint or GENERIC_WARNING_HINT}\n"
            "  (warnings go to stderr, and a graded cell that writes to stderr scores zero)"
        )
    return result


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def judge(exercise: Exercise, case: Case, raw_output: Any) -> None:
    """Compare one raw output with the reference; raise CheckFailure with input, expected, got, hint."""
    expected = exercise.reference(case)
    try:
        got = to_plain(raw_output)
    except TypeError as err:
        raise CheckFailure(f"{exercise.name} {err}.\n{_describe_case(case)}") from None
    reason = exercise.compare(expected, got)
    if reason is None:
        return
    hint = _recognise_mistake(exercise, case, got)
    lines = [
        f"{exercise.name} gives a wrong result on the check '{case.name}': {reason}.",
        _describe_case(case),
        f"  expected: {_short(expected)}",
        f"  got:      {_short(got)}",
    ]
    if exercise.tolerance:
        lines.append(f"  tolerance: {exercise.tolerance}")
    if hint:
        lines.append(f"  hint: {hint}")
    raise CheckFailure("\n".join(lines))


def _recognise_mistake(exercise: Exercise, case: Case, got: Any) -> str | None:
    for mistake in exercise.mistakes:
        try:
            wrong = to_plain(mistake.wrong_output(case))
        except (TypeError, ValueError, FloatingPointError, ZeroDivisionError):
            continue
        with np.errstate(all="ignore"):
            if exercise.compare(wrong, got) is None:
                return mistake.hint
    return None


def _describe_case(case: Case) -> str:
    parts = [_short(a) for a in case.args] + [f"{k}={_short(v)}" for k, v in case.kwargs.items()]
    return "  input:    " + ", ".join(parts)


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
    if exercise.from_scratch:
        reject_library_calls(exercise, functions[exercise.name])
    cases = exercise.cases(which)
    for case in cases:
        judge(exercise, case, call_student(exercise, functions, case))
    return len(cases)


def reject_library_calls(exercise: Exercise, fn: Callable) -> None:
    """CheckFailure when a from-scratch function calls the library op it should re-implement."""
    calls = library_calls(fn, exercise.forbidden_names)
    if calls:
        raise CheckFailure(
            f"{exercise.name} uses {', '.join(calls)}: this exercise builds the operation from scratch with "
            "NumPy, so library implementations earn no points. Remove those calls (the library versions are "
            "what the checks compare you with)."
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
        if len(functions) != len(exercise.function_names):
            raise TypeError(f"check_{exercise.name} takes the functions "
                            f"{', '.join(exercise.function_names)} (in that order)")
        by_name = dict(zip(exercise.function_names, functions))
        which = HIDDEN if hidden else PUBLIC
        report_passed(exercise, {which: run_check(exercise, by_name, which)})

    check.__name__ = f"check_{exercise.name}"
    check.__qualname__ = check.__name__
    check.__doc__ = (f"Check {', '.join(exercise.function_names)} on fixed inputs; raises AssertionError "
                     "with input, expected, got and a hint when a result is wrong.")
    check.exercise = exercise
    return check
