"""The configuration reference in docs/ is generated from the models and is up to date."""

from __future__ import annotations

from pathlib import Path

from proactived import docs

REFERENCE = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_the_committed_configuration_reference_is_up_to_date() -> None:
    assert docs.main(["--check", str(REFERENCE)]) == 0, "run: python -m proactived.docs > docs/configuration.md"


def test_every_config_key_has_a_meaning_in_the_reference() -> None:
    undocumented = [
        f"{section.key}{name}"
        for section in docs.sections()
        for name, field in section.model.model_fields.items()
        if not field.description
        and not docs.models_in(field.annotation)
        and "see its feature" not in docs.type_name(field.annotation)
    ]
    assert undocumented == [], "add a docstring under each of these fields"


def test_the_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("# old\n")
    assert docs.main(["--check", str(stale)]) == 1
