"""Importing a school's pupils from the exports its MIS really writes (SIMS in Windows-1252,
Arbor with a BOM and every script, Bromcom with 0x card ids, a Wonde-style feed), through the
``lockers import-roster`` command as the IT person runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from launcher.cli import main as lockers_cli
from lockers.cardhash import card_hash
from server.migrate import upgrade
from server.models import Card, Pupil, PupilContact, RosterMapping, Site
from server.roster import import_roster, preview_roster
from server.services import Services
from server.store import Store
from tests.server_kit import database_url, make_clock, seed

pytestmark = pytest.mark.usefixtures("each_database")

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    svc = Services(store, make_clock())
    seed(svc)
    yield svc
    store.dispose()


def run(services: Services, tmp_path: Path, *args: str) -> str:
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "{services.store.url}"\n')
    result = CliRunner().invoke(lockers_cli, ["import-roster", *args, "--config", str(config),
                                              "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.output


def pupil(services: Services, ref: str) -> Pupil:
    with services.store.read() as s:
        found = s.scalar(select(Pupil).where(Pupil.reference == ref))
        assert found is not None, f"{ref} was not imported"
        s.expunge(found)
        return found


def active_card(services: Services, ref: str) -> str | None:
    with services.store.read() as s:
        return s.scalar(select(Card.uid).join(Pupil).where(Pupil.reference == ref,
                                                           Card.active.is_(True)))


def contacts(services: Services, ref: str) -> list[PupilContact]:
    with services.store.read() as s:
        rows = s.scalars(select(PupilContact).join(Pupil, PupilContact.pupil_id == Pupil.id)
                         .where(Pupil.reference == ref).order_by(PupilContact.priority)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def test_a_sims_export_in_windows_1252_with_crlf_and_blank_lines_imports_every_pupil(
        services: Services, tmp_path: Path) -> None:
    out = run(services, tmp_path, str(DATA / "roster_sims.csv"), "--partial")
    assert "read as SIMS (Windows-1252, 4 pupil lines)" in out
    assert "new=3" in out and "problems=0" in out
    zoe = pupil(services, "S100000000001")
    assert (zoe.first_name, zoe.last_name, zoe.year_group, zoe.form) == ("Zoë", "O'Brien", "9",
                                                                         "9X")
    assert pupil(services, "S100000000002").last_name == "Smith, Jr"  # a quoted comma
    assert pupil(services, "S100000000004").first_name == "Jürgen"  # padding trimmed
    assert active_card(services, "S100000000001") == "04A1B2C3D4E601"  # colons, lower case
    assert active_card(services, "S100000000002") == "04A1B2C3D4E602"  # spaces
    mother, father = contacts(services, "S100000000001")
    assert (mother.name, mother.relationship, mother.email, mother.do_not_contact) == (
        "Mrs Siobhán O'Brien", "Mother", "s.obrien@example.org", False)
    assert father.do_not_contact and father.priority == 2
    assert contacts(services, "S100000000002")[0].opt_out_email
    # Renée left in July, before this import: she is not added at all.
    with services.store.read() as s:
        assert s.scalar(select(Pupil).where(Pupil.reference == "S100000000003")) is None


def test_an_arbor_export_keeps_names_in_every_script_and_withholds_a_card_on_two_lines(
        services: Services, tmp_path: Path) -> None:
    out = run(services, tmp_path, str(DATA / "roster_arbor.csv"), "--partial")
    assert "read as Arbor (UTF-8 with BOM, 7 pupil lines)" in out
    names = {ref: (p.first_name, p.last_name) for ref, p in (
        (r, pupil(services, r)) for r in ("A200000000001", "A200000000002", "A200000000003",
                                          "A200000000004", "A200000000005", "A200000000006",
                                          "A200000000007"))}
    assert names["A200000000001"] == ("Ελένη", "Παπαδοπούλου")
    assert names["A200000000002"] == ("Дима", "Иванов")  # the preferred name, for the kiosk
    assert names["A200000000003"] == ("伟", "李")
    assert names["A200000000004"] == ("محمد", "الفارسي")
    assert names["A200000000005"] == ("Nguyễn Thị", "Ngọc")
    assert names["A200000000006"] == ("Siobhán", "Ó Súilleabháin")  # composed from a Mac's form
    assert names["A200000000006"][0] == "Siobh\u00e1n"  # one code point, as typed on Windows
    assert pupil(services, "A200000000001").year_group == "8"  # "Year 8"
    # The card on lines 3 and 4 goes to neither pupil, and both lines say so.
    assert active_card(services, "A200000000002") is None
    assert active_card(services, "A200000000003") is None
    assert ("line 3: A200000000002: card id 04B00000000002 is on line 3 (A200000000002), "
            "line 4 (A200000000003); given to neither pupil") in out
    assert "line 4: A200000000003: card id 04B00000000002 is on line 3" in out
    assert ("line 5: A200000000004: card id '4.12E+13' was turned into a number by a "
            "spreadsheet; card not given; export straight from the MIS") in out
    assert ("line 3: A200000000002: contact 'Ольга Иванова' has e-mail 'olga@example', not "
            "an address; contact kept without an e-mail") in out
    assert contacts(services, "A200000000002")[0].email is None
    aine = contacts(services, "A200000000006")[0]
    assert aine.opt_out_email and aine.opt_out_sms  # "All"
    assert contacts(services, "A200000000003")[0].opt_out_sms
    assert not contacts(services, "A200000000003")[0].opt_out_email
    # A future leaving date is kept, and the pupil stays on roll with a working card.
    siobhan = pupil(services, "A200000000006")
    assert str(siobhan.leaving_date) == "2027-07-31" and not siobhan.archived
    assert active_card(services, "A200000000006") == "04B00000000006"


def test_a_bromcom_export_takes_0x_card_ids_and_reports_broken_lines_with_what_to_do(
        services: Services, tmp_path: Path) -> None:
    out = run(services, tmp_path, str(DATA / "roster_bromcom.csv"), "--partial")
    assert "read as Bromcom (UTF-8, 5 pupil lines)" in out  # the row of empty cells is no pupil
    assert active_card(services, "B300000000001") == "04C00000000001"
    assert active_card(services, "B300000000002") == "04C00000000002"  # 0x on every byte
    assert active_card(services, "B300000000005") == "A1B2C3D4"  # a 4-byte card
    assert pupil(services, "B300000000001").year_group == "9"  # "Y09"
    assert ("line 4: B300000000003: the line has 15 cells but the header has 14; row skipped; "
            "a name with a comma must be in quotes") in out
    assert "line 5: no pupil reference (UPN); row skipped; add the UPN in the MIS" in out
    assert contacts(services, "B300000000005")[0].do_not_contact  # "True"


def test_a_wonde_feed_orders_contacts_by_priority_and_keeps_opt_outs(
        services: Services, tmp_path: Path) -> None:
    out = run(services, tmp_path, str(DATA / "roster_wonde.csv"), "--partial")
    assert "read as Wonde feed" in out and "problems=0" in out
    orla, sean = contacts(services, "W400000000001")
    assert (orla.name, orla.priority, sean.name, sean.priority) == ("Orla Byrne", 1,
                                                                    "Seán Byrne", 2)
    assert sean.opt_out_email and not sean.opt_out_sms
    assert active_card(services, "W400000000003") == "04D00000000003"


def test_a_leaver_is_archived_and_their_card_revoked_by_date_or_by_absence(
        services: Services, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("UPN,Forename,Surname,Year,Reg Group,Card ID\n"
                     "L1,Ada,Lovelace,9,9X,04E00000000001\n"
                     "L2,Alan,Turing,9,9X,04E00000000002\n"
                     "L3,Grace,Hopper,9,9X,04E00000000003\n", encoding="utf-8")
    import_roster(services, "admin", first, full_export=False, progress=False)
    second = tmp_path / "second.csv"  # L1 left in October; L2 is missing from a full export
    second.write_text("UPN,Forename,Surname,Year,Reg Group,Card ID,Leaving Date\n"
                      "L1,Ada,Lovelace,9,9X,04E00000000001,17/10/2026\n"
                      "L3,Grace,Hopper,9,9X,04E00000000003,\n"
                      + "".join(f"{ref},Pupil,{ref},9,9X,,\n" for ref in ("A001", "A002",
                                                                           "A003")),
                      encoding="utf-8")
    plan = preview_roster(services, second)
    leaving = {p.reference: p.changes for p in plan.pupils if p.action == "leave"}
    assert leaving == {"L1": ["left on 17/10/2026"], "L2": ["not in this full export"]}
    assert pupil(services, "L1").archived is False  # the preview changed nothing
    report = import_roster(services, "admin", second, progress=False)
    assert report.archived == 2
    for ref in ("L1", "L2"):
        assert pupil(services, ref).archived
        assert active_card(services, ref) is None
    assert active_card(services, "L3") == "04E00000000003"
    with services.store.read() as s:
        from server.policy.cards import card_entries

        site = s.scalar(select(Site))
        kiosk_cards = {c.card for c in card_entries(s, site, 1, services.clock.now())}
        key = site.card_hash_key
    assert card_hash(key, "04E00000000001") not in kiosk_cards
    assert card_hash(key, "04E00000000002") not in kiosk_cards
    assert card_hash(key, "04E00000000003") in kiosk_cards


def test_a_card_already_enrolled_is_revoked_when_a_new_export_puts_it_on_two_lines(
        services: Services, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("UPN,Forename,Surname,Card ID\nD1,Dee,One,04F00000000001\n", "utf-8")
    import_roster(services, "admin", path, full_export=False, progress=False)
    assert active_card(services, "D1") == "04F00000000001"
    path.write_text("UPN,Forename,Surname,Card ID\nD1,Dee,One,04F00000000001\n"
                    "D2,Dee,Two,04:f0:00:00:00:00:01\n", "utf-8")
    report = import_roster(services, "admin", path, full_export=False, progress=False)
    assert [p.split(":")[0] for p in report.problems] == ["line 2", "line 3"]
    assert active_card(services, "D1") is None and active_card(services, "D2") is None


def test_a_school_saves_its_own_column_mapping_once_and_imports_without_it_next_time(
        services: Services, tmp_path: Path) -> None:
    path = tmp_path / "mis.csv"
    path.write_text("Admission No;Pupil Surname;Pupil Forename;Badge\n"
                    "C1;D'Arcy;Éloïse;0x04AA0000000001\n", encoding="utf-8-sig")
    out = run(services, tmp_path, str(path), "--partial", "--map", "reference=Admission No",
              "--map", "last_name=Pupil Surname", "--map", "first_name=Pupil Forename",
              "--map", "card_uid=Badge", "--save-mapping")
    assert "new=1" in out and "cards_new=1" in out
    with services.store.read() as s:
        assert s.scalar(select(RosterMapping.mapping))["card_uid"] == "Badge"
    path.write_text("Admission No;Pupil Surname;Pupil Forename;Badge\n"
                    "C1;D'Arcy;Éloïse;0x04AA0000000001\nC2;Ng;Li;0x04AA0000000002\n",
                    encoding="utf-8-sig")
    out = run(services, tmp_path, str(path), "--partial")
    assert "read as this school's saved mapping" in out and "new=1" in out
    assert active_card(services, "C2") == "04AA0000000002"


def test_a_file_with_unknown_columns_is_refused_with_how_to_map_them(
        services: Services, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Pupil,Class\nSam,3B\n", encoding="utf-8")
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "{services.store.url}"\n')
    result = CliRunner().invoke(lockers_cli, ["import-roster", str(path), "--config",
                                              str(config), "--no-progress"])
    assert result.exit_code == 1
    assert "are not a layout this product knows" in result.output
    assert "--map reference=UPN" in result.output


def test_the_same_export_imported_twice_changes_nothing_the_second_time(
        services: Services, tmp_path: Path) -> None:
    run(services, tmp_path, str(DATA / "roster_arbor.csv"), "--partial")
    out = run(services, tmp_path, str(DATA / "roster_arbor.csv"), "--partial", "--preview")
    assert "would change: new=0 updated=0 unchanged=7" in out


def test_whole_school_leaving_at_once_is_flagged_before_it_happens(
        services: Services, tmp_path: Path) -> None:
    rows = "".join(f"M{i},Pupil,Number{i},9,9X,\n" for i in range(10))
    path = tmp_path / "all.csv"
    path.write_text("UPN,Forename,Surname,Year,Reg Group,Card ID\n" + rows, "utf-8")
    import_roster(services, "admin", path, progress=False)
    path.write_text("UPN,Forename,Surname,Year,Reg Group,Card ID\nM0,Pupil,Number0,9,9X,\n",
                    "utf-8")
    plan = preview_roster(services, path)
    assert plan.warnings and "is this the whole school's export?" in plan.warnings[0]



def test_a_leavers_card_works_on_their_last_day_and_stops_the_next_morning(
        services: Services, tmp_path: Path) -> None:
    from datetime import timedelta

    from server.policy.cards import card_entries

    path = tmp_path / "r.csv"
    path.write_text("UPN,Forename,Surname,Card ID,Leaving Date\r\n"
                    "F1,Fin,Last,04F10000000001,23/11/2026\r\n", "utf-8")  # leaves today
    assert import_roster(services, "admin", path, full_export=False, progress=False).created

    def on_kiosk() -> bool:
        with services.store.read() as s:
            site = s.scalar(select(Site))
            hashes = {c.card for c in card_entries(s, site, 1, services.clock.now())}
            return card_hash(site.card_hash_key, "04F10000000001") in hashes

    assert on_kiosk()  # they collect their phone on their last afternoon
    services.clock.advance(timedelta(days=1).total_seconds())
    assert not on_kiosk()
    assert not pupil(services, "F1").archived  # archived by the next import, not by the clock


def test_a_primarys_plain_export_with_a_class_column_needs_no_mapping(
        services: Services, tmp_path: Path) -> None:
    path = tmp_path / "primary.csv"
    path.write_text("UPN,Forename,Surname,Class,Card UID\r\n"
                    "R1,Maisie,O'Connor,Hedgehogs,04aabbccddeeff\r\n", "utf-8")
    out = run(services, tmp_path, str(path), "--partial")
    assert "read as Simple" in out and "new=1" in out and "problems=0" in out
    assert pupil(services, "R1").form == "Hedgehogs"
    assert active_card(services, "R1") == "04AABBCCDDEEFF"
