"""Standard Webhooks signing and verification (ggzy.delivery.webhooks)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from ggzy.delivery import webhooks
from ggzy.errors import HubError

BODY = webhooks.encode_body({"type": "penalty.created", "data": {"party_name": "张三", "fine_yuan": 50000}})


def test_secret_has_prefix_and_enough_random_bytes():
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert secret != webhooks.new_secret()


def test_spec_example_signature():
    """The example from the Standard Webhooks specification signs to the published value."""
    headers = webhooks.sign_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        timestamp=datetime.fromtimestamp(1614265330, UTC),
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_round_trip_returns_the_body():
    secret = webhooks.new_secret()
    headers = webhooks.sign_headers(secret, "msg_1", BODY)
    assert webhooks.verify(secret, BODY, headers)["data"]["party_name"] == "张三"
    # header names are case-insensitive
    assert (
        webhooks.verify(secret, BODY, {k.upper(): v for k, v in headers.items()})["type"] == "penalty.created"
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b"50000", b"5000"), headers),
        lambda body, headers: (body, {**headers, "webhook-id": "msg_2"}),
        lambda body, headers: (
            body,
            {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)},
        ),
    ],
    ids=["body", "message-id", "timestamp"],
)
def test_tampering_is_detected(tamper):
    secret = webhooks.new_secret()
    body, headers = tamper(BODY, webhooks.sign_headers(secret, "msg_1", BODY))
    with pytest.raises(HubError) as caught:
        webhooks.verify(secret, body, headers)
    assert caught.value.code == "signature_invalid" and caught.value.status_code == 401


def test_other_units_secret_does_not_verify():
    headers = webhooks.sign_headers(webhooks.new_secret(), "msg_1", BODY)
    with pytest.raises(HubError, match="signature_invalid"):
        webhooks.verify(webhooks.new_secret(), BODY, headers)


@pytest.mark.parametrize("shift", [timedelta(minutes=-6), timedelta(minutes=6)], ids=["old", "future"])
def test_timestamp_outside_five_minutes_is_refused(shift):
    secret = webhooks.new_secret()
    headers = webhooks.sign_headers(secret, "msg_1", BODY, timestamp=datetime.now(UTC) + shift)
    with pytest.raises(HubError) as caught:
        webhooks.verify(secret, BODY, headers)
    assert caught.value.code == "signature_stale" and caught.value.status_code == 401


def test_timestamp_inside_window_is_accepted():
    secret = webhooks.new_secret()
    headers = webhooks.sign_headers(secret, "msg_1", BODY, timestamp=datetime.now(UTC) - timedelta(minutes=4))
    webhooks.verify(secret, BODY, headers)


def test_rotation_any_listed_signature_may_match():
    old, new = webhooks.new_secret(), webhooks.new_secret()
    signed_old = webhooks.sign_headers(old, "msg_1", BODY)
    signed_new = webhooks.sign_headers(
        new, "msg_1", BODY, timestamp=datetime.fromtimestamp(int(signed_old["webhook-timestamp"]), UTC)
    )
    both = {
        **signed_old,
        "webhook-signature": f"{signed_old['webhook-signature']} {signed_new['webhook-signature']}",
    }
    webhooks.verify(new, BODY, both)
    webhooks.verify(old, BODY, both)


@pytest.mark.parametrize("signature", ["v1", "v1,@@not-base64@@", "garbage"])
def test_malformed_signature_is_a_clean_401(signature):
    secret = webhooks.new_secret()
    headers = {**webhooks.sign_headers(secret, "msg_1", BODY), "webhook-signature": signature}
    with pytest.raises(HubError) as caught:
        webhooks.verify(secret, BODY, headers)
    assert caught.value.status_code == 401


def test_missing_headers_are_named():
    secret = webhooks.new_secret()
    headers = webhooks.sign_headers(secret, "msg_1", BODY)
    del headers["webhook-timestamp"]
    with pytest.raises(HubError) as caught:
        webhooks.verify(secret, BODY, headers)
    assert caught.value.status_code == 400 and caught.value.detail == {"missing": ["webhook-timestamp"]}
    assert "webhook-timestamp" in caught.value.zh and "webhook-timestamp" in caught.value.en


def test_signed_body_that_is_not_json_is_a_400():
    secret = webhooks.new_secret()
    body = b"not json"
    with pytest.raises(HubError) as caught:
        webhooks.verify(secret, body, webhooks.sign_headers(secret, "msg_1", body))
    assert caught.value.code == "body_not_json" and caught.value.status_code == 400
