"""Configuration: strict keys, type coercion, overrides, and the README reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdnnp.config import config_from_dict, load_config, reference, to_dict, with_overrides


def test_defaults_round_trip_through_a_mapping():
    config = config_from_dict({})
    assert config_from_dict(to_dict(config)) == config


def test_unknown_keys_and_sections_are_named():
    with pytest.raises(ValueError, match=r"config.network: unknown key 'hiden'.*'hidden'"):
        config_from_dict({"network": {"hiden": [5]}})
    with pytest.raises(ValueError, match="unknown key 'trainning'"):
        config_from_dict({"trainning": {}})


def test_values_are_checked_and_coerced():
    config = config_from_dict(
        {"training": {"max_time": "60", "seed": 4}, "network": {"hidden": [5, "6"]}}
    )
    assert config.training.max_time == 60.0 and config.network.hidden == (5, 6)
    with pytest.raises(ValueError, match="scaling.mode"):
        config_from_dict({"scaling": {"mode": "minmax"}})
    with pytest.raises(ValueError, match="expected a number"):
        config_from_dict({"training": {"learning_rate": "fast"}})


def test_relative_data_paths_follow_the_config_file(tmp_path):
    (tmp_path / "cfg.yaml").write_text(
        "data:\n  train: [data/a.extxyz@::2, {path: b.xyz, weight: 2}]\n"
    )
    config = load_config(tmp_path / "cfg.yaml")
    assert config.data.train[0].path == str(tmp_path / "data" / "a.extxyz") + "@::2"
    assert config.data.train[1].weight == 2.0


def test_overrides_ignore_none_and_validate():
    config = with_overrides(config_from_dict({}), training={"seed": 9, "max_epochs": None})
    assert config.training.seed == 9 and config.training.max_epochs == 200
    with pytest.raises(ValueError, match="training.dtype"):
        with_overrides(config, training={"dtype": "float16"})


@pytest.mark.parametrize("document", ["README.md", "docs/conventions.md"])
def test_documented_reference_is_current(document):
    text = (Path(__file__).resolve().parents[1] / document).read_text()
    assert reference() in text, f"{document}: configuration reference is out of date"


def test_gdf_settings_may_be_given_per_element():
    config = config_from_dict(
        {"loss": {"gdf": {"sigma": {"Si": "auto", "O": 0.03}, "modifier_c": {"Si": 35, "O": 74}}}}
    )
    gdf = config.loss.gdf
    assert gdf.sigma == {"Si": "auto", "O": 0.03} and gdf.modifier_c == {"Si": 35.0, "O": 74.0}
    assert config_from_dict(to_dict(config)).loss.gdf == gdf  # survives config.yaml
    with pytest.raises(ValueError, match="expected a number"):
        config_from_dict({"loss": {"gdf": {"modifier_b": {"Si": "steep"}}}})
    with pytest.raises(ValueError, match="single value"):
        config_from_dict({"loss": {"gdf": {"max_reference_atoms": {"Si": 10}}}})

    from hdnnp.training.gdf_setup import for_element

    assert for_element(gdf.modifier_c, "O", "c") == 74.0 and for_element(1.5, "O", "b") == 1.5
    with pytest.raises(ValueError, match="no value for element Cu"):
        for_element(gdf.modifier_c, "Cu", "c")


@pytest.mark.parametrize(
    ("gdf", "message"),
    [
        ({"modifier_c": "large"}, r"loss\.gdf\.modifier_c: expected a number or auto"),
        ({"modifier_c": {"O": "big"}}, r"loss\.gdf\.modifier_c\.O: expected a number or auto"),
        ({"sigma": -0.1}, r"loss\.gdf\.sigma: must be >= 0"),
        ({"modifier_b": "auto"}, r"loss\.gdf\.modifier_b: expected a number"),
        ({"max_weight": 0.5}, r"loss\.gdf\.max_weight: must be at least 1"),
    ],
)
def test_bad_gdf_settings_name_the_key(gdf, message):
    with pytest.raises(ValueError, match=message):
        config_from_dict({"loss": {"gdf": gdf}})


def test_gdf_c_auto_and_cap_are_accepted():
    gdf = config_from_dict(
        {"loss": {"gdf": {"modifier_c": {"Si": "auto", "O": 74}, "max_weight": 20}}}
    ).loss.gdf
    assert gdf.modifier_c == {"Si": "auto", "O": 74.0} and gdf.max_weight == 20.0
