"""Issue 14 (map, pictures, lists): the district map as a filter, dongs from a list, thumbnails, pagination."""

from __future__ import annotations

import io
import re

from PIL import Image

from portal.districts import DISTRICTS
from portal.tables import StoredFile
from proposals.tables import Proposal
from tests.images import phone_jpeg
from tests.integration.test_pb_proposals import proposal_form, submit
from voting.testing import add_projects, build_cycle


def _id_of(response) -> int:
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_the_map_names_every_district_and_filters_the_list(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals", districts=("11680", "11440"))
    await add_projects(built.id, built.pots["11680"], [100_000_000], prefix="Gangnam shade")
    await add_projects(built.id, built.pots["11440"], [100_000_000], prefix="Mapo library")
    await add_projects(built.id, built.city_pot, [100_000_000], prefix="Citywide bikes")
    placed = await add_projects(built.id, built.city_pot, [100_000_000], prefix="Hapjeong benches")
    await Proposal.update({Proposal.dong: "11440:합정동"}).where(Proposal.id == placed[0])
    url = f"/pb/cycles/{built.id}/proposals"

    everything = await client.get(url, params={"lang": "en", "sort": "title"})
    assert everything.status_code == 200
    for district in DISTRICTS:  # each district is a link named in the reader's language
        assert f'aria-label="{district.name_en}"' in everything.text
        assert f"{url}?sort=title&amp;district={district.code}" in everything.text
    korean = await client.get(url, params={"lang": "ko"})
    assert 'aria-label="마포구"' in korean.text and "지도" in korean.text

    mapo = await client.get(url, params={"lang": "en", "district": "11440", "sort": "title"})
    assert "Mapo library" in mapo.text and "Hapjeong benches" in mapo.text
    assert "Gangnam shade" not in mapo.text and "Citywide bikes" not in mapo.text
    assert re.search(r'aria-label="Mapo-gu" aria-current="true"', mapo.text)
    assert 'name="district" value="11440"' in mapo.text  # the search form keeps the district
    unknown = await client.get(url, params={"district": "99999"})
    assert unknown.status_code == 400


async def test_a_dong_comes_from_the_districts_list(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    unknown = await submit(
        citizen, built.id, proposal_form(built.pots["11680"], dong="11680:없는동")
    )
    assert unknown.status_code == 422
    assert (
        "We do not know the neighbourhood" in unknown.text and 'id="f-dong-error"' in unknown.text
    )
    assert '<option value="11680:없는동" selected>' in unknown.text  # what was sent is kept
    elsewhere = await submit(
        citizen, built.id, proposal_form(built.pots["11680"], dong="11440:합정동")
    )
    assert elsewhere.status_code == 422 and "is not in the pot" in elsewhere.text
    by_name = await submit(citizen, built.id, proposal_form(built.pots["11680"], dong="역삼1동"))
    assert by_name.status_code == 303
    stored = await Proposal.select(Proposal.dong, Proposal.location).where(
        Proposal.id == _id_of(by_name)
    )
    assert stored == [{"dong": "11680:역삼1동", "location": "Teheran-ro"}]
    page = await client.get(f"/pb/proposals/{_id_of(by_name)}", params={"lang": "en"})
    assert "Yeoksam 1-dong" in page.text and "Teheran-ro" in page.text  # the dong and the free text


async def test_a_thumbnail_is_made_once_upright_and_without_metadata(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    photo = phone_jpeg(800, 600, orientation=6)
    assert Image.open(io.BytesIO(photo)).getexif()  # the upload carries EXIF (GPS, make)
    no_alt = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot),
        files={"image": ("p.jpg", photo, "image/jpeg")},
    )
    assert no_alt.status_code == 422 and 'id="f-image_alt-error"' in no_alt.text
    made = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot, image_alt="The cracked pavement outside the library"),
        files={"image": ("p.jpg", photo, "image/jpeg")},
    )
    proposal_id = _id_of(made)
    files_after_upload = await StoredFile.count()
    first = await client.get(f"/pb/proposals/{proposal_id}/thumbnail")
    again = await client.get(f"/pb/proposals/{proposal_id}/thumbnail")
    assert first.status_code == 200 and first.headers["content-disposition"].startswith("inline")
    assert first.content == again.content and await StoredFile.count() == files_after_upload == 2
    for content in (
        first.content,
        (await client.get(f"/pb/proposals/{proposal_id}/image")).content,
    ):
        image = Image.open(io.BytesIO(content))
        assert image.height > image.width  # orientation 6 applied: the sideways photo stands up
        assert not image.getexif() and "exif" not in image.info
        assert (
            image.getpixel((image.width - 5, 5))[0] < 60
        )  # the dark corner turned to the top right
    assert max(Image.open(io.BytesIO(first.content)).size) <= 480
    page = await client.get(f"/pb/proposals/{proposal_id}")
    assert (
        f'src="/pb/proposals/{proposal_id}/thumbnail" alt="The cracked pavement outside the library"'
        in page.text
    )


async def test_long_lists_are_paginated_with_filters_kept(client, official):
    built = await build_cycle(
        official.account.id, phase="proposals"
    )  # 10 climate projects of its own
    await add_projects(
        built.id, built.city_pot, [100_000_000] * 45, prefix="Tree", category="housing"
    )
    await add_projects(
        built.id, built.city_pot, [100_000_000] * 3, prefix="Lamp", category="welfare"
    )
    url = f"/pb/cycles/{built.id}/proposals"
    second = await client.get(
        url, params={"lang": "en", "category": "housing", "sort": "title", "page": "2"}
    )
    assert second.status_code == 200 and "21–40 of 45" in second.text
    assert "Lamp" not in second.text and "Tree 1<" not in second.text
    links = re.findall(r'<a href="([^"]+)" rel="next">', second.text)
    assert (
        len(links) == 1 and "lang=" not in links[0]
    )  # the language is not carried into page links
    assert {"category=housing", "sort=title", "page=3"} <= set(
        links[0].split("?")[1].split("&amp;")
    )
    assert 'aria-current="page" aria-label="Page 2"' in second.text
    for garbage in ("abc", "-2", "0", "1e9", "２", "9" * 40):
        page = await client.get(url, params={"lang": "en", "category": "housing", "page": garbage})
        assert page.status_code == 200 and "1–20 of 45" in page.text, garbage
    past_end = await client.get(url, params={"lang": "en", "category": "housing", "page": "99"})
    assert "41–45 of 45" in past_end.text

    await official.login(official.account)
    queue = f"/officials/pb/cycles/{built.id}/proposals"
    page2 = await official.get(queue, params={"status": "feasible", "sort": "title", "page": "2"})
    assert page2.status_code == 200 and "21–40 of 58" in page2.text
    assert 'name="back" value="status=feasible&amp;sort=title&amp;page=2"' in page2.text
    assert (await official.get(queue, params={"page": "x"})).status_code == 200
    assert (await official.get(queue, params={"sort": "drop"})).status_code == 400


async def test_an_image_of_an_older_version_gets_its_thumbnail_once(client, citizen, official):
    from portal import storage
    from portal.db import write_transaction

    built = await build_cycle(official.account.id, phase="proposals")
    made = await submit(citizen, built.id, proposal_form(built.city_pot))
    proposal_id = _id_of(made)
    async with write_transaction():  # as older versions stored it: the upload as sent, no thumbnail
        old = await storage.put("pb-proposal", phone_jpeg(400, 300), storage.TYPES["jpeg"])
        await Proposal.update({Proposal.image_name: old}).where(Proposal.id == proposal_id)
    assert 'src="/pb/proposals/' in (await client.get(f"/pb/proposals/{proposal_id}")).text
    first = await client.get(f"/pb/proposals/{proposal_id}/thumbnail")
    again = await client.get(f"/pb/proposals/{proposal_id}/thumbnail")
    assert first.status_code == 200 and first.content == again.content
    assert (
        await StoredFile.count() == 2
    )  # the original and one thumbnail, made on the first request
    thumb = Image.open(io.BytesIO(first.content))
    assert thumb.height > thumb.width and not thumb.getexif()
    async with write_transaction():  # an old file Pillow cannot read: no thumbnail, a 404, no 500
        junk = await storage.put(
            "pb-proposal", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, storage.TYPES["png"]
        )
        await Proposal.update({Proposal.image_name: junk, Proposal.thumb_name: None}).where(
            Proposal.id == proposal_id
        )
    assert (await client.get(f"/pb/proposals/{proposal_id}/thumbnail")).status_code == 404
