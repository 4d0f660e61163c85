"""Uploads in the database (issue 10 item 5): one store, replaced and removed files go, old var/ files move in."""

from __future__ import annotations

import pytest

from judging.tables import Attachment
from portal import storage
from portal.commands import adopt_local_uploads
from portal.db import write_transaction
from portal.errors import NotFoundError
from portal.settings import get_settings
from portal.tables import StoredFile
from proposals.tables import Proposal
from tests.images import phone_jpeg, png
from tests.integration.test_challenge_intake import _entry_body, _organization
from tests.integration.test_challenge_setup import PDF, make_edition
from tests.integration.test_pb_proposals import PNG, proposal_form, submit
from voting.testing import build_cycle

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40


def test_one_type_table_detects_by_content():
    assert storage.detect_type(PDF).kind == "pdf"
    assert storage.detect_type(PNG).media_type == "image/png"
    assert storage.detect_type(JPEG).extension == "jpg"
    assert storage.detect_type(b"MZ\x90\x00") is None
    assert storage.detect_type(b"<svg") is None


async def test_a_file_is_written_only_with_its_owner_row():
    with pytest.raises(RuntimeError, match="transaction"):
        await storage.put("nobody", PDF, storage.TYPES["pdf"])
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await storage.put("nobody", PDF, storage.TYPES["pdf"])
            raise RuntimeError("the owner's write failed")
    assert await StoredFile.count() == 0  # rolled back with the owner
    for bad in ("", "../secret_key", "0" * 32 + ".exe"):
        with pytest.raises(NotFoundError):
            await storage.get(bad)


async def test_a_replaced_image_is_deleted(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    made = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot, image_alt="A bus stop"),
        files={"image": ("a.png", png(), "image/png")},
    )
    proposal_id = int(made.headers["location"].rsplit("/", 1)[1])

    async def files_of_row() -> set[str]:
        row = await (
            Proposal.select(Proposal.image_name, Proposal.thumb_name)
            .where(Proposal.id == proposal_id)
            .first()
        )
        return {row["image_name"], row["thumb_name"]}

    first = await files_of_row()
    assert {
        (r["file_id"], r["owner"]) for r in await StoredFile.select(StoredFile.file_id, StoredFile.owner)
    } == {(name, f"pb-proposal:{proposal_id}") for name in first}
    token = await citizen.csrf_token()
    edited = await citizen.post(
        f"/pb/proposals/{proposal_id}/edit",
        data={**proposal_form(built.city_pot, image_alt="A bus stop"), "_csrf_token": token},
        files={"image": ("a.png", phone_jpeg(), "image/png")},
    )
    assert edited.status_code == 303, edited.text
    second = await files_of_row()
    assert not second & first and len(second) == 2
    assert {r["file_id"] for r in await StoredFile.select(StoredFile.file_id)} == second
    image = await client.get(f"/pb/proposals/{proposal_id}/image")
    assert image.content.startswith(JPEG[:3]) and image.headers["content-type"].startswith("image/jpeg")
    assert image.headers["content-disposition"] == f'attachment; filename="proposal-{proposal_id}.jpg"'


async def test_a_removed_attachment_is_deleted(startup, official):
    challenge = await make_edition(official.account.id)
    org_id = await _organization(startup)
    entry = (
        await startup.send_json(
            "POST", "/api/v1/challenge/entries", _entry_body(challenge.edition_id, org_id)
        )
    ).json()
    url = f"/challenge/entries/{entry['id']}/attachments"
    token = await startup.csrf_token()
    for name, content in (("deck.pdf", PDF), ("photo.png", PNG)):
        sent = await startup.post(url, data={"_csrf_token": token}, files={"file": (name, content)})
        assert sent.status_code == 303
    rows = await Attachment.select(Attachment.id, Attachment.stored_name).order_by(Attachment.id)
    assert await StoredFile.count() == 2
    removed = await startup.post_form(f"{url}/{rows[0]['id']}/delete")
    assert removed.status_code == 303
    assert [r["file_id"] for r in await StoredFile.select(StoredFile.file_id)] == [
        rows[1]["stored_name"]
    ]
    assert (await startup.get(f"{url}/{rows[1]['id']}")).content == PNG


async def test_uploads_of_older_versions_move_from_var_into_the_database(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    made = await submit(citizen, built.id, proposal_form(built.city_pot))
    proposal_id = int(made.headers["location"].rsplit("/", 1)[1])
    # As an older version left it: the file under var/uploads, its name on the row.
    old_name, orphan = "a" * 32 + ".png", "b" * 32 + ".jpg"
    folder = get_settings().var_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / old_name).write_bytes(PNG)
    (folder / orphan).write_bytes(JPEG)  # a replaced image an older version never deleted
    await Proposal.update({Proposal.image_name: old_name}).where(Proposal.id == proposal_id)
    try:
        await adopt_local_uploads()
        await adopt_local_uploads()  # idempotent: a second run finds nothing to move
        assert not (folder / old_name).exists() and (folder / orphan).exists()
        assert await StoredFile.select(StoredFile.file_id, StoredFile.owner) == [
            {"file_id": old_name, "owner": f"pb_proposal:{proposal_id}"}
        ]
        image = await client.get(f"/pb/proposals/{proposal_id}/image")
        assert image.status_code == 200 and image.content == PNG
    finally:
        (folder / orphan).unlink(missing_ok=True)
