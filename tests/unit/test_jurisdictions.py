"""Jurisdiction profiles: the five notices' deadlines and units, and validation of broken profile files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ggzy.errors import HubError
from ggzy.identifiers import uscc_check_digit_ok
from ggzy.jurisdictions import (
    DELIVERY_MODES,
    PROFILE_DIR,
    ROLES,
    available_profiles,
    load_profile,
    load_profile_file,
)
from ggzy.settings import get_settings

# Working-day deadlines exactly as each notice sets them, plus the hub's own 签收 policy (5).
EXPECTED_DEADLINES = {
    "jiaozuo": {"inspection_results_public": 5, "penalty_acknowledgement": 5},
    "haikou": {"inspection_results_public": 20, "liaison_change_report": 3, "penalty_acknowledgement": 5},
    "anyang": {"penalty_acknowledgement": 5},
    "hegang": {
        "inspection_results_public": 10,
        "liaison_change_report": 3,
        "complaint_transfer": 3,
        "penalty_acknowledgement": 5,
    },
    "yunnan": {"inspection_results_public": 10, "remote_evaluation_copy": 7, "penalty_acknowledgement": 5},
}
EXPECTED = {  # key: (name, region code, lead agency name, meeting cadence, 文号 or date in the notice reference)
    "jiaozuo": ("焦作市", "410800", "焦作市发展和改革委员会", "half_yearly", "焦公管委〔2021〕1号"),
    "haikou": (
        "海口市",
        "460100",
        "海口市公共资源交易管理委员会办公室（市公管办）",
        "half_yearly",
        "2021-08-28",
    ),
    "anyang": (
        "安阳市",
        "410500",
        "安阳市公共资源交易管理委员会办公室（市公管办）",
        "not_fixed",
        "安公管办〔2022〕6号",
    ),
    "hegang": ("鹤岗市", "230400", "鹤岗市发展和改革委员会", "yearly", "鹤发改公管〔2022〕216号"),
    "yunnan": ("云南省", "530000", "云南省发展和改革委员会", "half_yearly", "2020-09-30"),
}
HEGANG_LETTERHEAD = [
    "鹤岗市发展和改革委员会", "中共鹤岗市纪委监委", "鹤岗市监察委员会", "鹤岗市审计局", "鹤岗市公安局",
    "鹤岗市住房和城乡建设局", "鹤岗市交通运输局", "鹤岗市水务局", "鹤岗市农业农村局", "鹤岗市自然资源局",
    "鹤岗市公共资源交易中心", "鹤岗市营商环境建设监督局",
]  # fmt: skip


def test_five_profiles_are_bundled() -> None:
    assert available_profiles() == sorted(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_profile_matches_its_notice(key: str) -> None:
    profile = load_profile(key)
    name, region, lead_name, cadence, reference = EXPECTED[key]
    assert (profile.key, profile.name, profile.region_code) == (key, name, region)
    assert profile.deadlines == EXPECTED_DEADLINES[key]
    assert profile.meeting_cadence == cadence
    assert reference in profile.notice
    assert profile.lead.name == lead_name and profile.lead.role == "lead_agency"
    assert profile.unit(profile.lead_agency) is profile.lead
    codes = [u.code for u in profile.units]
    assert len(codes) == len(set(codes))
    assert all(u.role in ROLES and u.delivery in DELIVERY_MODES for u in profile.units)
    assert all(uscc_check_digit_ok(u.uscc) and u.uscc[2:8] == region for u in profile.units)
    roles = {u.role for u in profile.units}
    assert {"supervising_department", "discipline", "audit", "police", "trading_centre"} <= roles


def test_codes_and_usccs_are_unique_across_profiles_and_both_delivery_modes_exist() -> None:
    units = [u for key in available_profiles() for u in load_profile(key).units]
    assert len({u.code for u in units}) == len(units)
    assert len({u.uscc for u in units}) == len(units)
    assert {u.delivery for u in units} == {"push", "pull"}
    pull_roles = {u.role for u in units if u.delivery == "pull"}
    assert pull_roles <= {"discipline", "audit", "police"}


def test_hegang_has_the_twelve_letterhead_units() -> None:
    assert [u.name for u in load_profile("hegang").units] == HEGANG_LETTERHEAD


def test_credit_platform_where_the_notice_shares_credit_information() -> None:
    for key in ("jiaozuo", "haikou", "anyang", "yunnan"):
        assert load_profile(key).units_by_role("credit_platform"), key


def test_default_profile_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GGZY_JURISDICTION", "hegang")
    get_settings.cache_clear()
    try:
        assert load_profile().key == "hegang"
    finally:
        get_settings.cache_clear()


def test_unknown_profile_and_unit() -> None:
    with pytest.raises(HubError) as raised:
        load_profile("beijing")
    assert raised.value.code == "unknown_jurisdiction" and "hegang" in raised.value.en
    with pytest.raises(HubError) as raised:
        load_profile("jiaozuo").unit("HG-FGW")
    assert raised.value.code == "unknown_unit" and raised.value.status_code == 404


def test_operator_profile_file_by_path(tmp_path: Path) -> None:
    data = yaml.safe_load((PROFILE_DIR / "anyang.yaml").read_text(encoding="utf-8"))
    data["key"] = "anyang-test"
    data["deadlines"]["penalty_acknowledgement"] = 3
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    profile = load_profile(str(path))
    assert (profile.key, profile.deadlines["penalty_acknowledgement"], profile.source) == (
        "anyang-test",
        3,
        path,
    )


def _broken(tmp_path: Path, change) -> Path:
    """A copy of the Jiaozuo profile with one change applied."""
    data = yaml.safe_load((PROFILE_DIR / "jiaozuo.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _set_unit(index: int, field: str, value):
    return lambda d: d["units"][index].__setitem__(field, value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set_unit(2, "role", "ministry"), "units[2].role"),
        (_set_unit(3, "code", "JZ-FGW"), "units[3].code"),
        (_set_unit(1, "code", "jz/cz"), "units[1].code"),
        (_set_unit(4, "uscc", "11410800MB1234567X"), "units[4].uscc"),
        (_set_unit(0, "delivery", "email"), "units[0].delivery"),
        (_set_unit(0, "delivry", "push"), "units[0].delivry"),
        (lambda d: d.__setitem__("lead_agency", "JZ-NONE"), "lead_agency"),
        (lambda d: d.__setitem__("lead_agency", "JZ-CZ"), "lead_agency"),
        (
            lambda d: d["deadlines"].__setitem__("inspection_results_public", 0),
            "deadlines.inspection_results_public",
        ),
        (lambda d: d["deadlines"].__setitem__("appeal", 5), "deadlines.appeal"),
        (lambda d: d["deadlines"].pop("penalty_acknowledgement"), "deadlines.penalty_acknowledgement"),
        (lambda d: d.__setitem__("meeting_cadence", "monthly"), "meeting_cadence"),
        (lambda d: d.__setitem__("region_code", "4108"), "region_code"),
        (lambda d: d.pop("name"), "name"),
    ],
)
def test_invalid_profile_names_file_and_field(tmp_path: Path, change, field: str) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(HubError) as raised:
        load_profile_file(path)
    error = raised.value
    assert error.code == "invalid_profile"
    assert error.detail["file"] == str(path) and error.detail["field"] == field
    assert str(path) in error.zh and field in error.zh and str(path) in error.en and field in error.en


def test_unreadable_profile_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("key: [unclosed\n", encoding="utf-8")
    with pytest.raises(HubError) as raised:
        load_profile_file(path)
    assert raised.value.code == "invalid_profile" and raised.value.detail["file"] == str(path)


def test_profile_commands() -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from ggzy.commands import profile

    app = typer.Typer()
    app.add_typer(profile.app, name="profile")
    runner = CliRunner()
    shown = runner.invoke(app, ["profile", "show", "hegang", "--json"])
    assert shown.exit_code == 0
    body = json.loads(shown.output)
    assert body["deadlines"] == EXPECTED_DEADLINES["hegang"] and len(body["units"]) == 12
    assert body["notice_date"] == "2022-09-14"
    missing = runner.invoke(app, ["profile", "show", "beijing", "--json"])
    assert missing.exit_code == 2 and json.loads(missing.output)["error"] == "unknown_jurisdiction"
    listed = json.loads(runner.invoke(app, ["profile", "list", "--json"]).output)
    assert listed["profiles"] == available_profiles()
