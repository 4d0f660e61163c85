"""The OpenAPI document says how unsafe calls carry the CSRF token, and the portal serves a
self-hosted API reference that passes its strict Content-Security-Policy."""

from __future__ import annotations

from html.parser import HTMLParser

from portal.web.pages import CSP


class _Assets(HTMLParser):
    """Collects what a page loads or runs: scripts, stylesheets, inline styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values.get("src"))
            self._in_script = True
        if tag == "link" and "stylesheet" in (values.get("rel") or ""):
            self.stylesheets.append(values.get("href") or "")
        if tag == "style":
            self.inline.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


async def test_openapi_documents_the_csrf_header_and_cookie_on_unsafe_calls(client):
    document = (await client.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["csrfHeader"] == {**schemes["csrfHeader"], "type": "apiKey", "in": "header", "name": "x-csrftoken"}
    assert schemes["csrfCookie"]["in"] == "cookie" and schemes["csrfCookie"]["name"] == "csrftoken"
    assert schemes["sessionCookie"]["in"] == "cookie"
    unsafe = safe = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete"):
                unsafe += 1
                assert {"csrfHeader": [], "csrfCookie": []} in operation.get("security", []), (method, path)
            elif method == "get":
                safe += 1
                assert "security" not in operation, path
    assert unsafe > 20 and safe > 20
    # The token named there is the one the portal checks.
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert login["security"] == [{"csrfHeader": [], "csrfCookie": []}]


async def test_api_reference_page_lists_calls_and_passes_the_csp(client):
    response = await client.get("/api-reference")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "style-src 'self'" in CSP and "unsafe-inline" not in CSP
    text = response.text.replace("<wbr>", "")  # long paths may wrap after each "/"
    assert "/api/v1/auth/login" in text and "x-csrftoken" in text and 'id="schemas"' in text
    # The challenge's bids, discussion and feedback calls (issue 13) are listed with their bodies.
    for path in (
        "/api/v1/challenge/rounds/{round_id}/bids/{entry_id}",
        "/api/v1/challenge/rounds/{round_id}/entries/{entry_id}/discussion",
        "/api/v1/challenge/entries/{entry_id}/feedback",
        "/api/v1/challenge/officials/rounds/{round_id}/feedback",
    ):
        assert path in text, path
    assert "BidWrite" in text and "DiscussionMessageWrite" in text and "EntryFeedbackRead" in text
    assert "Needs the x-csrftoken header and the CSRF cookie." in text
    assets = _Assets()
    assets.feed(text)
    # Same origin only (no CDN), nothing inline: exactly what the CSP allows.
    assert all(src and src.startswith("/static/") for src in assets.scripts), assets.scripts
    assert all(href.startswith("/static/") for href in assets.stylesheets), assets.stylesheets
    assert assets.stylesheets and assets.inline == []
    korean = await client.get("/api-reference", headers={"accept-language": "ko"})
    assert "API 안내서" in korean.text and "/<wbr>api/<wbr>v1/<wbr>auth/<wbr>login" in korean.text
