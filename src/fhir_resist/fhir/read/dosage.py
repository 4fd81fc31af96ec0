"""A therapy's structured daily dose in mg, from its Dosage elements (never from their text).

A Dosage line gives a daily dose when it states an amount in UCUM ``mg`` (``doseAndRate.doseQuantity``,
or ``doseRange`` with both ends) and how often (``timing.repeat`` ``frequency`` per ``period`` of
``h``, ``d`` or ``wk``, with ``frequencyMax`` / ``periodMax`` read as a range; or a
``timing.code`` of QD, BID, TID or QID). Anything else leaves the dose unknown, never guessed:
another unit (tablets, mg/kg, g), ``asNeeded``, a comparator, days of the week, a rate only,
``doseAndRate`` entries that disagree. Several lines give a dose only when each has its own
``sequence`` (they follow one another) and all give the same daily dose: lines without a
sequence, or sharing one, may be taken together (400 mg morning and 400 mg evening) and are not
added up here. MedicationAdministration's dosage is one administration, not a daily dose.
"""

from __future__ import annotations

from fhir_resist.domain import DailyDose
from fhir_resist.fhir.read.elements import JSON, items, number, obj, string
from fhir_resist.terminology import GTS_ABBREVIATION, UCUM

_PERIOD_DAYS = {"h": 1 / 24, "d": 1.0, "wk": 7.0}
_TIMES_A_DAY = {"QD": 1, "BID": 2, "TID": 3, "QID": 4}

Span = tuple[float, float]


def daily_dose(res: JSON) -> DailyDose | None:
    """The daily dose a MedicationRequest (``dosageInstruction``) or MedicationStatement
    (``dosage``) states in structured form, or None."""
    if res.get("resourceType") == "MedicationAdministration":
        return None
    lines = items(res, "dosageInstruction") or items(res, "dosage")
    if not lines:
        return None
    spans = [_line(line) for line in lines]
    if len(lines) > 1:
        sequences = [line.get("sequence") for line in lines]
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in sequences):
            return None
        if len(set(sequences)) != len(sequences):
            return None
    known = [span for span in spans if span is not None]
    if len(known) != len(spans) or len(set(known)) != 1:
        return None
    low, high = known[0]
    return DailyDose(low, high)


def _line(line: JSON) -> Span | None:
    if line.get("asNeededBoolean") is True or "asNeededCodeableConcept" in line:
        return None
    amount = _amount(line)
    per_day = _times_a_day(obj(line, "timing"))
    if amount is None or per_day is None:
        return None
    return round(amount[0] * per_day[0], 6), round(amount[1] * per_day[1], 6)


def _amount(line: JSON) -> Span | None:
    """The amount per administration in mg; every ``doseAndRate`` entry with a dose must agree."""
    found: set[Span | None] = set()
    for entry in items(line, "doseAndRate"):
        if "doseQuantity" in entry:
            mg = _mg(obj(entry, "doseQuantity"))
            found.add((mg, mg) if mg is not None else None)
        elif "doseRange" in entry:
            low = _mg(obj(obj(entry, "doseRange"), "low"))
            high = _mg(obj(obj(entry, "doseRange"), "high"))
            found.add((low, high) if low is not None and high is not None and low <= high else None)
    if len(found) != 1:
        return None
    return found.pop()


def _mg(quantity: JSON) -> float | None:
    """A quantity in UCUM mg (no comparator, above zero); other units are not converted."""
    value = number(quantity.get("value"))
    if value is None or value <= 0 or "comparator" in quantity:
        return None
    if string(quantity, "system") != UCUM or string(quantity, "code") != "mg":
        return None
    return value


def _times_a_day(timing: JSON) -> Span | None:
    repeat = obj(timing, "repeat")
    if not repeat:
        codes = {
            string(c, "code")
            for c in items(obj(timing, "code"), "coding")
            if string(c, "system") == GTS_ABBREVIATION
        }
        known = [_TIMES_A_DAY[c] for c in codes if c in _TIMES_A_DAY]
        return (known[0], known[0]) if len(codes) == 1 and known else None
    if "dayOfWeek" in repeat:
        return None  # not every day
    frequency = _positive(repeat.get("frequency"))
    period = _positive(repeat.get("period"))
    days = _PERIOD_DAYS.get(string(repeat, "periodUnit") or "")
    if frequency is None or period is None or days is None:
        return None
    most = _positive(repeat.get("frequencyMax")) if "frequencyMax" in repeat else frequency
    longest = _positive(repeat.get("periodMax")) if "periodMax" in repeat else period
    if most is None or longest is None or most < frequency or longest < period:
        return None
    return frequency / (longest * days), most / (period * days)


def _positive(value: object) -> float | None:
    out = number(value)
    return out if out is not None and out > 0 else None
