"""The Credit China stand-in and its connector: deterministic history, signed access, paging, file exchange."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.credit_china import CreditChinaApi, DishonestDebtorConnector, SeriousDishonestyConnector
from ggzy.errors import HubError
from ggzy.identifiers import make_uscc, uscc_check_digit_ok
from standins.credit_china import KNOWN_HISTORY, KNOWN_USCC, CreditChinaFeed, CreditChinaServer, render_file


def test_feed_is_deterministic_and_carries_the_scripted_history():
    """Same seed, same changes; the scripted entry has an inclusion, a correction and a removal in order."""
    a, b = CreditChinaFeed(seed=3), CreditChinaFeed(seed=3)
    assert [c.to_json() for c in a.changes] == [c.to_json() for c in b.changes]
    assert [c.to_json() for c in CreditChinaFeed(seed=4).changes] != [c.to_json() for c in a.changes]
    scripted = [c for c in a.changes if c.key == KNOWN_HISTORY["serious_dishonesty"]["entry_id"]]
    assert [c.change_type for c in scripted] == ["add", "correct", "remove"]
    assert uscc_check_digit_ok(KNOWN_USCC)
    person = next(c for c in a.changes if c.key == KNOWN_HISTORY["dishonest_debtor"]["case_code"])
    assert "*" in person.record["cardNum"]


def test_overlap_usccs_become_listed_entities():
    """USCCs passed in (e.g. the exchange stand-in's bidders) appear on the lists."""
    bidders = [make_uscc("91", "410800", f"MA{i:06d}") for i in range(4)]
    feed = CreditChinaFeed(seed=0, overlap_usccs=bidders)
    listed = {c.record.get("统一社会信用代码") or c.record.get("cardNum") for c in feed.changes}
    assert set(bidders) <= listed


def test_signed_api_pages_incrementally_and_refuses_bad_credentials():
    """since is exclusive, pages concatenate to the whole list, and a wrong secret gets 401."""
    feed = CreditChinaFeed(seed=0)
    with CreditChinaServer(feed) as server:
        api = CreditChinaApi(server.base_url, server.app_key, server.app_secret, page_size=7)
        whole = api.pull("serious_dishonesty", None)
        assert [c["seq"] for c in whole.changes] == [c.seq for c in feed.visible("serious_dishonesty")]
        assert whole.pages == -(-len(whole.changes) // 7)
        middle = whole.changes[len(whole.changes) // 2]["changedAt"]
        rest = api.pull("serious_dishonesty", middle)
        assert all(c["changedAt"] > middle for c in rest.changes)
        assert rest.watermark == whole.watermark
        api.close()
        wrong = CreditChinaApi(server.base_url, server.app_key, "not-the-secret")
        with pytest.raises(HubError) as refused:
            wrong.pull("dishonest_debtor", None)
        assert refused.value.detail["status"] == 401
        wrong.close()
        assert httpx.get(server.base_url + "/api/v1/lists").status_code == 401


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exchange_files_parse_to_the_same_records(fmt):
    """A daily file in JSON or CSV parses to the changes the API serves (blank cells are null)."""
    feed = CreditChinaFeed(seed=0)
    for connector, name in ((DishonestDebtorConnector(), "dishonest_debtor"), (SeriousDishonestyConnector(), "serious_dishonesty")):
        changes = feed.visible(name)[:10]
        parsed = connector.parse(render_file(changes, fmt), f"{name}_20250101.{fmt}")
        assert parsed.rows == len(changes)
        records = [json.loads(r) for r in parsed.canonical.column("record").to_pylist()]
        assert records == [{k: v for k, v in c.record.items()} for c in changes]
        assert parsed.canonical.column("change_type").to_pylist() == [c.change_type for c in changes]
