"""Pages for follow and notify: my notifications (paginated), follow and unfollow buttons' target."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from portal import notifications
from portal.auth import requires_login
from portal.errors import InvalidInput
from portal.web.pages import back_to, context_of, page, safe_next, signed_in_user

FormData = URLEncodedBody[dict[str, str]]
MAX_ID = 2**31 - 1


def _target_id(text: str) -> int:
    text = (text or "").strip()
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise InvalidInput("Choose something to follow.", field="target_id")
    return int(text)


class FollowPages(Controller):
    """The follow buttons every cycle, pot and proposal page shows post here."""

    path = "/follows"
    guards = [requires_login]

    @post("/")
    async def follow(self, request: Request, data: FormData) -> Redirect:
        """Follow or unfollow, then back to the page the button was on."""
        user = signed_in_user(request)
        kind = data.get("target_kind", "")
        target_id = _target_id(data.get("target_id", ""))
        action = data.get("action", "follow")
        if action == "follow":
            await notifications.follow(user.id, kind, target_id)
            request.session["flash"] = "You follow this now. Choose what you hear on your account page."
        elif action == "unfollow":
            await notifications.unfollow(user.id, kind, target_id)
            request.session["flash"] = "You no longer follow this."
        else:
            raise InvalidInput("Choose to follow or to stop following.", field="action")
        return back_to(safe_next(data.get("next"), "/account/notifications"))


class NotificationPages(Controller):
    """My notifications: every notice, newest first, twenty a page; what I follow."""

    path = "/account/notifications"
    guards = [requires_login]

    @get("/")
    async def notifications_list(self, request: Request) -> Template:
        """One page of my notifications (``?page=2`` for older ones) and what I follow."""
        user = signed_in_user(request)
        page_number = request.query_params.get("page")
        number = int(page_number) if page_number and page_number.isdigit() and len(page_number) < 7 else 1
        follows = await notifications.follows_of(user.id)
        listing = await notifications.notifications_page(user.id, context_of(request).language, number)
        return page(
            request,
            "auth/notifications.html",
            listing=listing,
            follows=follows,
            following={(f.kind, f.target_id) for f in follows},
            flash=request.session.pop("flash", None),
        )

    @post("/{notification_id:int}/read")
    async def mark_one_read(self, request: Request, notification_id: FromPath[int], data: FormData) -> Redirect:
        user = signed_in_user(request)
        await notifications.mark_read(user.id, notification_id)
        return back_to(safe_next(data.get("next"), "/account/notifications"))
