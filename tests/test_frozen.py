"""``fast_init``: a frozen dataclass's ``__init__`` set through its slots, and nothing else changed."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import date
from typing import Any

import pytest

from fhir_resist.domain import Alteration, Call, CnvCall, Kind, Origin
from fhir_resist.frozen import fast_init
from fhir_resist.hgvs import parse_coding, parse_protein


def _plain_alteration() -> type[Any]:
    """``Alteration`` as ``dataclasses`` alone makes it: the reference for every comparison."""
    fields = [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(Alteration)]
    return dataclasses.make_dataclass("Alteration", fields, frozen=True, slots=True)


PLAIN = _plain_alteration()
ARGUMENTS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((Kind.VARIANT, Call.PRESENT, "Observation/v"), {}),
    (
        (Kind.VARIANT, Call.ABSENT),
        {
            "source": "Observation/v-kras",
            "gene": "KRAS",
            "protein": parse_protein("p.G12D"),
            "coding": parse_coding("NM_004985.5:c.35G>A"),
            "codon": 12,
            "origin": Origin.SOMATIC,
            "vaf": 0.31,
            "observed": date(2026, 2, 20),
            "label": "KRAS p.G12D",
        },
    ),
    (
        (Kind.CNV, Call.PRESENT, "Observation/c", "ERBB2", "HGNC:3430"),
        {"cnv": CnvCall.GAIN, "copy_number": 9.0},
    ),
]


def test_signature_is_the_dataclass_one() -> None:
    assert inspect.signature(Alteration.__init__) == inspect.signature(PLAIN.__init__)
    assert Alteration.__init__.__qualname__ == "Alteration.__init__"


@pytest.mark.parametrize(("args", "kwargs"), ARGUMENTS)
def test_values_are_those_the_dataclass_makes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    made, plain = Alteration(*args, **kwargs), PLAIN(*args, **kwargs)
    assert dataclasses.astuple(made) == dataclasses.astuple(plain)
    assert repr(made) == repr(plain)
    assert made == Alteration(*args, **kwargs) and hash(made) == hash(Alteration(*args, **kwargs))
    assert pickle.loads(pickle.dumps(made)) == made
    assert dataclasses.replace(made, gene="NRAS").gene == "NRAS"


def test_still_frozen() -> None:
    made = Alteration(Kind.VARIANT, Call.PRESENT, "Observation/v")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.gene = "KRAS"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.gene


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((Kind.VARIANT, Call.PRESENT), {}),  # source missing
        ((Kind.VARIANT, Call.PRESENT, "s"), {"genes": "KRAS"}),  # no such field
        ((Kind.VARIANT, Call.PRESENT, "s"), {"kind": Kind.CNV}),  # given twice
        ((Kind.VARIANT, Call.PRESENT, "s", *([None] * 23)), {}),  # one too many
    ],
)
def test_wrong_arguments_are_refused_as_by_the_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        PLAIN(*args, **kwargs)
    with pytest.raises(TypeError):
        Alteration(*args, **kwargs)


def _refused(cls: type[Any], why: str) -> None:
    with pytest.raises(TypeError, match=why):
        fast_init(cls)


def test_only_plain_frozen_slotted_dataclasses() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    class NotADataclass:
        pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int]

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotInit:
        a: int = dataclasses.field(init=False, default=1)

    refused: list[tuple[type[Any], str]] = [
        (NoSlots, "frozen dataclass with slots"),
        (NotFrozen, "frozen dataclass with slots"),
        (NotADataclass, "frozen dataclass with slots"),
        (PostInit, "__post_init__ or an InitVar"),
        (WithInitVar, "__post_init__ or an InitVar"),
        (Factory, "plain fields"),
        (KeywordOnly, "plain fields"),
        (NotInit, "plain fields"),
    ]
    for cls, why in refused:
        _refused(cls, why)


def test_a_class_without_fields() -> None:
    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Empty:
        pass

    assert Empty() == Empty()
