"""Plans as data: the built-in catalog, PLANS_FILE in TOML and JSON, and a bad file failing
start-up with a message naming the plan and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.billing.catalog import (
    Feature,
    PlansFileError,
    UnknownPlan,
    builtin_catalog,
    load_catalog,
)
from server.settings import SettingsError, load_settings

GOOD_TOML = """
[plans.pro]
display_name = "Pro (annual)"
stripe_price_id = "price_pro_base"
stripe_metered_price_id = "price_pro_minutes"
included_minutes = 3000
overage = "allowed"
max_concurrent_calls = 40
max_workflows = 50
max_phone_numbers = 5
features = ["recording", "campaigns"]

[plans.starter]
included_minutes = 300
max_concurrent_calls = 3
max_workflows = 3
max_phone_numbers = 1
"""


def test_builtin_catalog():
    plans = builtin_catalog()
    assert plans.names == ["free", "pro", "scale", "suspended"]
    suspended = plans.require("suspended")
    assert not suspended.allows_calls and suspended.max_concurrent_calls == 0
    assert suspended.features == frozenset() and suspended.max_workflows == 0
    assert [p.name for p in plans.purchasable()] == ["free", "pro", "scale"]
    assert plans.get("retired") is plans.get("free")  # a stored name no longer known
    assert plans.find("retired") is None
    with pytest.raises(UnknownPlan):
        plans.require("retired")
    assert plans.by_stripe_price("price_anything") is None


def test_toml_file_overrides_and_adds(tmp_path: Path):
    path = tmp_path / "plans.toml"
    path.write_text(GOOD_TOML)
    plans = load_catalog(path)
    assert plans.names == ["free", "pro", "scale", "suspended", "starter"]
    pro = plans.require("pro")
    assert pro.included_minutes == 3000 and pro.overage == "allowed"
    assert pro.features == {Feature.RECORDING, Feature.CAMPAIGNS}
    assert not pro.has(Feature.BRING_YOUR_OWN_KEYS)
    starter = plans.require("starter")
    assert starter.display_name == "Starter" and starter.overage == "hard_cap"
    assert starter.stripe_price_id is None and starter.features == frozenset()
    assert plans.by_stripe_price("price_pro_base") is pro
    assert plans.by_stripe_price("price_pro_minutes") is pro
    assert plans.by_stripe_price("price_other") is None
    assert plans.require("scale") == builtin_catalog().require("scale")  # untouched


def test_json_file_by_extension(tmp_path: Path):
    path = tmp_path / "plans.json"
    path.write_text(
        json.dumps(
            {
                "plans": {
                    "scale": {
                        "display_name": "Scale",
                        "stripe_price_id": "price_scale",
                        "included_minutes": 1,
                        "overage": "hard_cap",
                        "max_concurrent_calls": 2,
                        "max_workflows": 3,
                        "max_phone_numbers": 4,
                        "features": ["bring_your_own_keys"],
                        "purchasable": False,
                    }
                }
            }
        )
    )
    plans = load_catalog(path)
    scale = plans.require("scale")
    assert (
        scale.included_minutes,
        scale.max_concurrent_calls,
        scale.max_workflows,
        scale.max_phone_numbers,
    ) == (1, 2, 3, 4)
    assert plans.by_stripe_price("price_scale") is scale
    assert "scale" not in [p.name for p in plans.purchasable()]


@pytest.mark.parametrize(
    ("suffix", "content", "expected"),
    [
        (
            ".toml",
            '[plans.pro]\nincluded_minutes = "lots"\nmax_concurrent_calls = 1\n'
            "max_workflows = 1\nmax_phone_numbers = 1\n",
            ["plan 'pro'", "field 'included_minutes'"],
        ),
        (
            ".toml",
            "[plans.pro]\nincluded_minutes = 1\nmax_concurrent_calls = 1\n"
            'max_workflows = 1\nmax_phone_numbers = 1\noverage = "sometimes"\n',
            ["plan 'pro'", "field 'overage'"],
        ),
        (
            ".toml",
            "[plans.gold]\nincluded_minutes = 1\nmax_concurrent_calls = 1\nmax_workflows = 1\n",
            ["plan 'gold'", "field 'max_phone_numbers'", "Field required"],
        ),
        (
            ".json",
            json.dumps(
                {
                    "plans": {
                        "pro": {
                            "included_minutes": 1,
                            "max_concurrent_calls": 1,
                            "max_workflows": 1,
                            "max_phone_numbers": 1,
                            "features": ["teleportation"],
                        }
                    }
                }
            ),
            ["plan 'pro'", "field 'features.0'"],
        ),
        (
            ".json",
            json.dumps(
                {
                    "plans": {
                        "pro": {
                            "included_minutes": 1,
                            "max_concurrent_calls": 1,
                            "max_workflows": 1,
                            "max_phone_numbers": 1,
                            "max_agents": 3,
                        }
                    }
                }
            ),
            ["plan 'pro'", "field 'max_agents'", "Extra inputs"],
        ),
        (".json", json.dumps({"plans": {"Bad Name": {}}}), ["plan 'Bad Name'", "field 'name'"]),
        (".json", json.dumps({"plan": {}}), ["field 'plan'"]),
        (".json", "{not json", ["not valid JSON"]),
        (".toml", "[plans\n", ["not valid TOML"]),
    ],
)
def test_bad_file_names_the_plan_and_field(tmp_path: Path, suffix: str, content: str,
                                           expected: list[str]):  # fmt: skip
    path = tmp_path / f"plans{suffix}"
    path.write_text(content)
    with pytest.raises(PlansFileError) as caught:
        load_catalog(path)
    for fragment in expected:
        assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_the_same_stripe_price_on_two_plans_is_refused(tmp_path: Path):
    path = tmp_path / "plans.toml"
    limits = "included_minutes = 1\nmax_concurrent_calls = 1\nmax_workflows = 1\nmax_phone_numbers = 1\n"
    path.write_text(
        f'[plans.a]\nstripe_price_id = "price_x"\n{limits}'
        f'[plans.b]\nstripe_metered_price_id = "price_x"\n{limits}'
    )
    with pytest.raises(PlansFileError, match="price_x"):
        load_catalog(path)


def test_bad_plans_file_fails_settings(tmp_path: Path):
    path = tmp_path / "plans.toml"
    path.write_text("[plans.pro]\nmax_workflows = -1\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, plans_file=str(path))
    assert "plan 'pro'" in str(caught.value) and "max_workflows" in str(caught.value)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(_env_file=None, plans_file=str(tmp_path / "missing.toml"))


def test_settings_carry_the_catalog(tmp_path: Path):
    path = tmp_path / "plans.toml"
    path.write_text(GOOD_TOML)
    settings = load_settings(_env_file=None, plans_file=str(path), default_plan="starter")
    assert settings.plan_catalog.require("starter").max_workflows == 3
    with pytest.raises(SettingsError, match="DEFAULT_PLAN"):
        load_settings(_env_file=None, plans_file=str(path), default_plan="suspended")
