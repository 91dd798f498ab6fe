"""The shipped process files as a process designer meets them: valid against the OMG schema,
laid out for bpmn.io, accepted by `complaints validate`, and clean under bpmnlint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from api.cli import main
from tests.conftest import shared_dir
from tools.bpmn_layout import missing_di

ROOT = Path(__file__).resolve().parents[1]
PROCESS_FILES = sorted((ROOT / "processes").glob("*.bpmn"))
BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"


def test_the_lifecycle_processes_are_all_there() -> None:
    names = {p.stem for p in PROCESS_FILES}
    assert {"complaint", "duty_request", "petition", "suggestion", "accusation"} <= names


@pytest.mark.skipif(shared_dir() is None, reason="shared/conformance not found beside the checkout")
@pytest.mark.parametrize("path", PROCESS_FILES, ids=lambda p: p.name)
def test_each_process_file_is_valid_against_the_omg_schema(path: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_dir() / "conformance" / "xsd" / "BPMN20.xsd")))
    assert schema.validate(etree.parse(str(path))), schema.error_log


@pytest.mark.parametrize("path", PROCESS_FILES, ids=lambda p: p.name)
def test_each_process_file_has_layout_for_every_element(path: Path) -> None:
    assert missing_di(path.read_bytes()) == []


def test_complaints_validate_accepts_the_shipped_processes(capsys) -> None:
    assert main(["validate", *map(str, (ROOT / "processes").iterdir())]) == 0
    assert "valid" in capsys.readouterr().out


def test_complaints_validate_names_file_line_and_element_of_a_fault(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "complaint.bpmn"
    text = (ROOT / "processes" / "complaint.bpmn").read_text(encoding="utf-8")
    broken.write_text(
        text.replace('id="detect_repeat"', 'id="detect_repeats"', 1), encoding="utf-8"
    )
    others = [p for p in (ROOT / "processes").iterdir() if p.name != "complaint.bpmn"]
    assert main(["validate", str(broken), *map(str, others)]) == 1
    err = capsys.readouterr().err
    assert "complaint.bpmn:" in err and "[check_repeat]" in err and "detect_repeats" in err


@pytest.mark.skipif(
    not BPMNLINT.exists() or not shutil.which("node"), reason="run `npm ci` for bpmnlint"
)
@pytest.mark.parametrize("path", PROCESS_FILES, ids=lambda p: p.name)
def test_each_process_file_passes_bpmnlint_recommended_rules(path: Path) -> None:
    result = subprocess.run(
        [str(BPMNLINT), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
