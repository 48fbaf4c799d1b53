"""The ``sinks:`` section: typed per desk, errors located, secrets never printed; templates render safely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proactived.config.load import load_config
from proactived.errors import ConfigError
from proactived.sinks.adf import to_adf
from proactived.sinks.render import DIALECTS, cut, render_ticket
from proactived.sinks.webhook import WebhookConfig
from proactived.ticket_actions import TicketKind
from tests.ticketing import action, incident, problem


def load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "proactived.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.replace(str(path), "F") for p in caught.value.problems]


def test_it_names_file_line_and_key_of_every_sink_error(tmp_path: Path) -> None:
    problems = load(tmp_path, """\
sinks:
  ops:
    type: redmine
    url: http://redmine.example.com
    api_key: k3y-value
    project: ops
  jira:
    type: jira
    url: https://x.atlassian.net
    project: OPS
    flavour: cloud
  other:
    type: servicenow
""")
    assert any(p.startswith("F:2:") and "external_key_field: required key is missing" in p for p in problems)
    assert any(p.startswith("F:11:") and "flavour: unknown key" in p for p in problems)
    assert "F:12:3: sinks.other: type must be one of: redmine, jira, webhook" in problems


def test_jira_cloud_needs_an_email_and_api_token(tmp_path: Path) -> None:
    [problem_] = load(tmp_path, "sinks:\n  j:\n    type: jira\n    url: https://x\n    project: OPS\n")
    assert problem_ == "F:2:3: sinks.j: Jira Cloud needs email and api_token (or api_token_file)"


def test_sink_secrets_come_from_files_and_never_print(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("s3cret-api-key\n")
    path = tmp_path / "proactived.yaml"
    path.write_text(f"sinks:\n  ops:\n    type: webhook\n    url: http://h\n    secret_file: {tmp_path / 'key'}\n")
    config = load_config(path)
    hook = config.sinks["ops"]
    assert isinstance(hook, WebhookConfig) and hook.secret is not None
    assert hook.secret.reveal() == "s3cret-api-key" and "s3cret" not in repr(config) + config.model_dump_json()


@pytest.mark.parametrize("dialect", ["textile", "markdown", "jira"])
def test_label_values_cannot_inject_markup(dialect: str) -> None:
    evil = incident("HostDown", host="web1|*x*</pre><script>", site="[a](http://evil)")
    view = problem("p1")
    view = type(view)(**{**view.__dict__, "symptoms": [evil]})
    body = render_ticket(DIALECTS[dialect], action(TicketKind.OPEN, "p1", view=view)).body
    row = next(line for line in body.splitlines() if "HostDown" in line and "web1" in line)
    assert "|*x*" not in row and "[a](http://evil)" not in row
    assert dialect == "jira" or "<script>" not in row  # Jira's wiki renderer never renders HTML
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # the table keeps its five columns


def test_titles_are_one_plain_line_and_long_text_is_cut_with_a_marker() -> None:
    title = render_ticket(DIALECTS["textile"], action(TicketKind.OPEN, "p1", title_template="a\n{{ 'b*' }}\n c")).title
    assert title == "a b* c"
    assert cut("x" * 300, 200).endswith("full text is kept in its store]") and len(cut("x" * 300, 200)) == 200


def test_markdown_becomes_a_valid_adf_document() -> None:
    doc = to_adf(
        "### Title\n\n**Bold**: a \\| b [link](https://x.example)\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert [n["type"] for n in doc["content"]] == ["heading", "paragraph", "bulletList", "table"]
    para = doc["content"][1]["content"]
    assert para[0] == {"type": "text", "text": "Bold", "marks": [{"type": "strong"}]}
    assert para[1]["text"] == ": a | b "
    assert para[2]["marks"] == [{"type": "link", "attrs": {"href": "https://x.example"}}]
    assert doc["content"][3]["content"][0]["content"][0]["type"] == "tableHeader"
