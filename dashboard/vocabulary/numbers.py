"""How the pages write numbers: one helper per kind (plain values, factors, bytes, float's limits)."""

from __future__ import annotations

import numpy as np

from bptt_core.budget import human as human_bytes  # noqa: F401  (the engine's byte format, shared)

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable(v: float, digits: int = 3) -> str:
    """A number for a sentence: ``0.0123``, or ``3.56×10⁻¹⁰`` where Python would write ``3.56e-10``."""
    text = f"{v:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def factor(v: float, digits: int = 3) -> str:
    """A multiplicative factor: ``×0.476``; a dash where there is none to state."""
    return "–" if not np.isfinite(v) else f"×{readable(v, digits)}"


def power_of_ten(log10_value: float) -> str:
    """``10^log10_value`` for values beyond float's range: ``10⁻³²⁴·⁵`` reads as a number, ``0`` would lie."""
    whole = int(np.floor(log10_value))
    mantissa = 10 ** (log10_value - whole)
    return f"{mantissa:.3g}×10{str(whole).translate(_SUPERSCRIPT)}"


def ten_to(exponent: float) -> str:
    """``10⁻²``: a power of ten as a sentence writes it."""
    return "10" + f"{exponent:g}".translate(_SUPERSCRIPT)


def smallest_number(dtype: str) -> str:
    """The smallest positive normal number of ``dtype``, as a sentence writes it (``1e-308``)."""
    return f"1e{int(np.floor(np.log10(np.finfo(dtype).tiny)))}"


def spread(values: np.ndarray, digits: int = 3) -> str:
    """A median and its range over draws: ``0.995 (0.946 to 1.09 over 3 draws)``; one draw alone; non-finite draws
    are left out and counted (``nan`` when none is finite)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = v[np.isfinite(v)]
    dropped = f", {v.size - finite.size} not finite" if finite.size < v.size else ""
    if finite.size == 0:
        return f"nan ({v.size} draw{'s' * (v.size > 1)}, none finite)" if v.size else "nan (no draws)"
    if finite.size == 1:
        return f"{readable(finite[0], digits)} (1 draw{dropped})"
    lo, hi = readable(finite.min(), digits), readable(finite.max(), digits)
    return f"{readable(float(np.median(finite)), digits)} ({lo} to {hi} over {finite.size} draws{dropped})"
