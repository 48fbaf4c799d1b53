"""Hypothesis strategies for hostile input: any JSON, and JSON shaped like each payload with wrong values inside."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Text that includes control characters, surrogates-free Unicode, markup and template syntax.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\r\nBcc: x@evil",
            "{{ 7*7 }}",
            "{% raw %}",
            "<script>",
            "&amp;",
            "../../etc",
            "\u202e",
            "\ufeff",
            "9" * 40,
            "-1",
            "1e309",
            "null",
            "2026-13-45T99:99:99Z",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
any_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)),
    max_leaves=20,
)


def shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of ``keys`` (each with a plausible or hostile value) plus random extra keys."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, any_json) for k, v in keys.items()}).flatmap(
        lambda d: st.dictionaries(nasty_text, any_json, max_size=2).map(lambda extra: {**extra, **d})
    )


label_map = st.dictionaries(nasty_text, st.one_of(nasty_text, any_json), max_size=5)
timestamp = st.one_of(
    st.sampled_from(
        [
            "2026-11-02T09:00:00Z",
            "0001-01-01T00:00:00Z",
            "2026-11-02T09:00:00+14:00",
            "9999-12-31T23:59:59.999999999Z",
            "yesterday",
            "",
        ]
    ),
    st.integers(),
    nasty_text,
)
status_word = st.sampled_from(["firing", "resolved", "active", "suppressed", "unprocessed", "FIRING", "", "x"])

push_alert = shaped(
    {
        "labels": label_map,
        "annotations": label_map,
        "status": status_word,
        "startsAt": timestamp,
        "endsAt": timestamp,
        "severity": nasty_text,
        "source": nasty_text,
        "generatorURL": nasty_text,
    }
)
am_alert = shaped(
    {
        "labels": label_map,
        "annotations": label_map,
        "startsAt": timestamp,
        "endsAt": timestamp,
        "fingerprint": nasty_text,
        "generatorURL": nasty_text,
        "status": shaped(
            {
                "state": status_word,
                "silencedBy": st.lists(nasty_text, max_size=2),
                "inhibitedBy": st.lists(nasty_text, max_size=2),
            }
        ),
    }
)
webhook_alert = shaped(
    {
        "labels": label_map,
        "annotations": label_map,
        "status": status_word,
        "startsAt": timestamp,
        "endsAt": timestamp,
        "fingerprint": nasty_text,
        "generatorURL": nasty_text,
    }
)


def webhook_body(version: str) -> st.SearchStrategy[dict[str, Any]]:
    return shaped(
        {
            "version": st.just(version),
            "status": status_word,
            "receiver": nasty_text,
            "groupKey": nasty_text,
            "commonLabels": label_map,
            "externalURL": nasty_text,
            "alerts": st.lists(webhook_alert, max_size=4),
        }
    )


prom_alert = shaped(
    {"labels": label_map, "annotations": label_map, "state": status_word, "activeAt": timestamp, "value": nasty_text}
)
prom_body = st.one_of(
    any_json, shaped({"status": st.just("success"), "data": shaped({"alerts": st.lists(prom_alert, max_size=4)})})
)
zabbix_problem = shaped(
    {
        "eventid": st.one_of(nasty_text, st.integers()),
        "objectid": nasty_text,
        "name": nasty_text,
        "severity": st.sampled_from(["0", "3", "5", "9", "x"]),
        "clock": st.one_of(nasty_text, st.integers()),
        "r_eventid": st.sampled_from(["0", "12", "x"]),
        "r_clock": nasty_text,
        "suppressed": st.sampled_from(["0", "1", "x"]),
        "tags": st.lists(shaped({"tag": nasty_text, "value": nasty_text}), max_size=3),
        "suppression_data": st.lists(any_json, max_size=2),
    }
)
zabbix_trigger = shaped(
    {
        "triggerid": nasty_text,
        "description": nasty_text,
        "hosts": st.lists(shaped({"host": nasty_text, "name": nasty_text}), max_size=2),
    }
)
