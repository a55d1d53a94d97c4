"""The documented workflow examples (docs/WORKFLOWS.md and the OpenAPI example) are valid."""

from __future__ import annotations

import json
import re
from pathlib import Path

from runtime.validation import validate_definition
from runtime.workflow import Workflow

DOC = Path(__file__).resolve().parents[3] / "docs" / "WORKFLOWS.md"


def test_the_commented_example_in_the_docs_is_a_valid_workflow() -> None:
    block = re.search(r"```jsonc\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    # Comments start at the beginning of a line or after whitespace ("https://" does not).
    text = re.sub(r"(?m)(^|\s)//[^\n]*$", "", block.group(1))
    assert validate_definition(json.loads(text)) == []


def test_the_openapi_example_is_a_valid_workflow() -> None:
    example = Workflow.model_json_schema()["examples"][0]
    assert validate_definition(example) == []
    assert set(example["settings"]) == set(Workflow.model_fields["settings"].annotation
                                           .model_fields)  # every settings field shown
