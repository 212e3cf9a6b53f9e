"""The local SendGrid stand-in: what it accepts, how it records template messages, and its filters."""

import random

import pytest
import requests

from acehooks import mailcapture

PORT_RANGE = (19500, 19999)  # ports kept for this suite's own servers
AUTH = {"Authorization": "Bearer SG.unit"}


@pytest.fixture
def capture(tmp_path):
    for _ in range(50):
        try:
            server = mailcapture.serve(random.randint(*PORT_RANGE), tmp_path / "mail")
        except OSError:
            continue
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()
        return
    raise RuntimeError(f"no free port in {PORT_RANGE}")


def template_message(to="a@example.com", template_id="d-abc", data=None) -> dict:
    return {"personalizations": [{"to": [{"email": to}], "dynamic_template_data": data or {"name": "Ada"}}],
            "from": {"email": "shop@example.com"}, "template_id": template_id}


def test_template_message_recorded(capture, tmp_path):
    response = requests.post(f"{capture}/v3/mail/send", json=template_message(), headers=AUTH, timeout=5)

    assert response.status_code == 202
    [record] = requests.get(f"{capture}/messages", timeout=5).json()
    assert record["id"] == response.headers["X-Message-Id"]
    assert record["to"] == ["a@example.com"]
    assert record["templateId"] == "d-abc"
    assert record["templateData"] == {"name": "Ada"}
    assert record["subject"] is None
    assert len(list((tmp_path / "mail").glob("*.json"))) == 1


def test_filters_by_recipient_and_template(capture):
    for to, template_id in [("a@example.com", "d-1"), ("b@example.com", "d-1"), ("a@example.com", "d-2")]:
        requests.post(f"{capture}/v3/mail/send", json=template_message(to, template_id), headers=AUTH, timeout=5)

    to_a = requests.get(f"{capture}/messages", params={"to": "a@example.com"}, timeout=5).json()
    template_1 = requests.get(f"{capture}/messages", params={"templateId": "d-1"}, timeout=5).json()

    assert [record["templateId"] for record in to_a] == ["d-1", "d-2"]
    assert [record["to"] for record in template_1] == [["a@example.com"], ["b@example.com"]]


@pytest.mark.parametrize("change, problem", [
    ({"template_id": "1234-legacy"}, "dynamic_template_data needs a dynamic template: template_id starting with 'd-'"),
    ({"personalizations": [{"to": [{"name": "no email"}]}]}, "personalizations[0].to entries need an email"),
    ({"personalizations": [{"to": [{"email": "a@example.com"}], "dynamic_template_data": [1]}]},
     "personalizations[0].dynamic_template_data must be an object"),
])
def test_template_message_problems(capture, change, problem):
    response = requests.post(f"{capture}/v3/mail/send", json={**template_message(), **change}, headers=AUTH, timeout=5)

    assert response.status_code == 400
    assert problem in [error["message"] for error in response.json()["errors"]]


def test_plain_content_order_checked(capture):
    message = {"personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "shop@example.com"},
               "subject": "Hi", "content": [{"type": "text/html", "value": "<p>x</p>"},
                                            {"type": "text/plain", "value": "x"}]}

    response = requests.post(f"{capture}/v3/mail/send", json=message, headers=AUTH, timeout=5)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "text/plain content must come first"}]


def test_injected_failure_answered_first(capture):
    requests.post(f"{capture}/control", json={"failures": [429]}, timeout=5)

    first = requests.post(f"{capture}/v3/mail/send", json=template_message(), headers=AUTH, timeout=5)
    second = requests.post(f"{capture}/v3/mail/send", json=template_message(), headers=AUTH, timeout=5)

    assert (first.status_code, second.status_code) == (429, 202)
    assert len(requests.get(f"{capture}/messages", timeout=5).json()) == 1
