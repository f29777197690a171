"""Personnummer: checked (Luhn, date), keyed once, the same key in every form and association.

Property-based: the vectorised parser and keyed hash equal the scalar reference on any input.
All numbers here are synthetic (generated Luhn-valid), never real persons'.
"""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest
from fixtures.synthetic import invalid_pnr, luhn_digit, make_pnr, pnr_forms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.core import rawzone
from ingestion.intake import pseudonymize as pz

SECRET = b"unit-test-secret"
TODAY = date(2026, 11, 1)


def test_every_written_form_of_one_number_gives_one_key():
    rng = random.Random(1)
    for _ in range(200):
        canonical = make_pnr(rng)
        forms = pnr_forms(canonical, TODAY) + [f" {canonical[:8]} {canonical[8:]} "]
        assert {pz.canonical_pnr(f, TODAY) for f in forms} == {canonical}
        assert len({pz.person_key(SECRET, pz.canonical_pnr(f, TODAY)) for f in forms}) == 1


def test_samordningsnummer_day_plus_sixty_is_accepted():
    rng = random.Random(2)
    number = make_pnr(rng, coordination=True)
    assert int(number[6:8]) > 60
    assert pz.canonical_pnr(number) == number
    assert pz.canonical_pnr(f"{number[2:8]}-{number[8:]}", TODAY) == number


@pytest.mark.parametrize(
    "text",
    [
        "19800101-1235",  # wrong check digit (…1234 is not Luhn-valid, neither is …1235)
        "19800230" + "0000",  # 30 February
        "19801301-0000",  # month 13
        "8001011",  # too short
        "1980010112345",  # 13 digits
        "abcdefghij",
        "",
    ],
)
def test_invalid_numbers_are_refused(text):
    assert pz.canonical_pnr(text, TODAY) is None


def test_wrong_check_digit_is_refused_for_generated_numbers():
    rng = random.Random(3)
    for _ in range(200):
        assert pz.canonical_pnr(invalid_pnr(rng), TODAY) is None


def test_plus_marks_a_centenarian():
    body = "121212" + "121"
    number = body + luhn_digit(body)
    assert pz.canonical_pnr(f"{number[:6]}-{number[6:]}", TODAY) == "20" + number
    assert pz.canonical_pnr(f"{number[:6]}+{number[6:]}", TODAY) == "19" + number


def test_keys_depend_on_the_secret_and_pseudonyms_on_the_association():
    canonical = make_pnr(random.Random(4))
    assert pz.person_key(SECRET, canonical) != pz.person_key(b"another-county", canonical)
    assert len(pz.person_key(SECRET, canonical)) == pz.KEY_LENGTH
    assert pz.pseudonym_key(SECRET, "SODRA", "D-17") == pz.pseudonym_key(SECRET, "SODRA", " D-17 ")
    assert pz.pseudonym_key(SECRET, "SODRA", "D-17") != pz.pseudonym_key(SECRET, "NORR", "D-17")


def test_key_for_input_takes_a_number_or_a_key():
    canonical = make_pnr(random.Random(5))
    key = pz.person_key(SECRET, canonical)
    assert pz.key_for_input(SECRET, f"{canonical[2:8]}-{canonical[8:]}") == key
    assert pz.key_for_input(SECRET, key) == key
    assert pz.key_for_input(SECRET, invalid_pnr(random.Random(6))) is None


def test_scrub_text_removes_number_shapes_only():
    canonical = make_pnr(random.Random(7))
    text, found = pz.scrub_text(f"ring om {canonical[:8]}-{canonical[8:]} imorgon, tel 12345")
    assert found and canonical[:8] not in text and "12345" in text
    assert pz.scrub_text("Samverkansteam Avesta 2016")[1] is False


# ---------------------------------------------------------------- vectorised == scalar

digits = st.text(alphabet="0123456789", min_size=0, max_size=13)
separators = st.sampled_from(["", "-", "+", " ", "\u00a0"])


@st.composite
def pnr_like(draw):
    """Anything from a valid number in any form to near misses and junk."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.sampled_from(pnr_forms(make_pnr(rng, coordination=draw(st.booleans())), TODAY)))
    if choice == 1:
        return invalid_pnr(rng)
    if choice == 2:
        head, tail = draw(digits), draw(digits)
        return f"{head}{draw(separators)}{tail}"
    if choice == 3:
        return (
            f"{draw(st.integers(1700, 2100))}{draw(st.integers(0, 19)):02d}{draw(st.integers(0, 99)):02d}"
            f"{draw(separators)}{draw(st.integers(0, 9999)):04d}"
        )
    return draw(st.text(max_size=14))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(pnr_like(), min_size=1, max_size=40))
def test_vectorised_parse_equals_scalar(values):
    vectorised = pz.canonical_pnrs(pd.Series(values, dtype="string"), TODAY)
    assert [None if v is pd.NA else v for v in vectorised.tolist()] == [pz.canonical_pnr(v, TODAY) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.integers(1927, 2010), st.integers(0, 364), st.integers(0, 999), st.booleans())
def test_generated_numbers_round_trip_through_every_form(year, day, serial, coordination):
    born = date(year, 1, 1).toordinal() + day
    born = date.fromordinal(min(born, date(year, 12, 31).toordinal()))
    dd = born.day + (60 if coordination else 0)
    nine = f"{born.year % 100:02d}{born.month:02d}{dd:02d}{serial:03d}"
    canonical = f"{born.year}{nine[2:]}{luhn_digit(nine)}"
    for form in pnr_forms(canonical, TODAY):
        assert pz.canonical_pnr(form, TODAY) == canonical
    forms = pnr_forms(canonical, TODAY)
    assert pz.canonical_pnrs(pd.Series(forms, dtype="string"), TODAY).tolist() == [canonical] * len(forms)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=30), st.binary(min_size=1, max_size=100)
)
def test_vectorised_keys_equal_hmac(values, secret):
    keys = pz.hmac_keys(secret, pd.Series(values, dtype="string"))
    expected = [None if v is None else pz.person_key(secret, v) if v.isascii() else None for v in values]
    for value, key, reference in zip(values, keys.tolist(), expected):
        if value is None:
            assert key is pd.NA
        elif value.isascii():
            assert key == reference
        else:  # non-ASCII messages (deltagar_id) hash their UTF-8 bytes, as pseudonym_key does
            import hmac

            assert key == hmac.digest(secret, value.encode("utf-8"), "sha256").hex()[: pz.KEY_LENGTH]


def test_pseudonym_keys_equal_the_scalar_form():
    ids = pd.Series([" D-1", "D-1", None, "Åsa-7"], dtype="string")
    keys = pz.pseudonym_keys(SECRET, "SODRA", ids).tolist()
    assert keys[0] == keys[1] == pz.pseudonym_key(SECRET, "SODRA", "D-1")
    assert keys[2] is pd.NA
    assert keys[3] == pz.pseudonym_key(SECRET, "SODRA", "Åsa-7")


def test_erased_keys_file_appends_once(tmp_path):
    path = tmp_path / "raw" / "_erased_keys.txt"
    assert rawzone.read_erased_keys(path) == set()
    rawzone.append_erased_key(path, "a" * 32)
    rawzone.append_erased_key(path, "a" * 32)
    assert path.read_text().splitlines() == ["a" * 32]


# ---------------------------------------------------------------- no secret, no run


def test_run_without_secret_is_refused_with_exit_code_2(tmp_path, monkeypatch, capsys):
    from fixtures.synthetic import registry_file

    from ingestion.cli import main

    monkeypatch.setenv("FINSAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINSAM_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("FINSAM_REGISTRY", str(registry_file(tmp_path / "registry.yml")))
    monkeypatch.delenv("FINSAM_WAREHOUSE", raising=False)
    monkeypatch.delenv("FINSAM_HASH_SECRET", raising=False)
    monkeypatch.delenv("FINSAM_DEMO", raising=False)
    assert main(["run", "--no-docs"]) == 2
    err = capsys.readouterr().err
    assert "FINSAM_HASH_SECRET saknas" in err
    assert not (tmp_path / "home" / "raw").exists() or not any((tmp_path / "home" / "raw").rglob("data.parquet"))


def test_process_refuses_without_secret_and_demo_has_its_own(tmp_path, monkeypatch):
    from fixtures.synthetic import registry_file

    from ingestion.core.config import DEMO_SECRET, ConfigError, load_settings
    from ingestion.core.registry import load_registry
    from ingestion.process import process_association

    monkeypatch.setenv("FINSAM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FINSAM_HASH_SECRET", raising=False)
    monkeypatch.delenv("FINSAM_DEMO", raising=False)
    monkeypatch.delenv("FINSAM_LANDING", raising=False)
    monkeypatch.delenv("FINSAM_WAREHOUSE", raising=False)
    registry = load_registry(registry_file(tmp_path / "registry.yml"))
    with pytest.raises(ConfigError):
        process_association(load_settings(), registry, "SODRA", docs=False)
    monkeypatch.setenv("FINSAM_DEMO", "1")
    assert load_settings().secret() == DEMO_SECRET.encode()
