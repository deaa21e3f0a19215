"""What the admin pages read, and kiosk provisioning: the kiosk's broker account (as the
script in server.services.provisioning) and the config file to copy onto its Pi."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from lockers.broker import kiosk_username, new_password
from lockers.kiosk_config import BrokerConfig, KioskConfig, ReaderConfig, dump_kiosk_config
from server import tenancy
from server.models import Kiosk, Site, Slot, Staff
from server.services.context import ADMIN, ServiceContext
from server.services.provisioning import TLS_DIR, BrokerEndpoint, kiosk_steps, server_script


def _visible_staff(q: Any) -> Any:
    """``q`` limited to the staff the request's schools may manage: one school's admin sees
    that school's staff and the trust's (staff rows name their school but are read at sign-in
    before any scope exists, so the ORM's school filter leaves them alone)."""
    scope = tenancy.current()
    if scope is None:
        return q
    return q.where(Staff.site_id.in_(scope.visible) | Staff.site_id.is_(None))


@dataclass(frozen=True)
class Provisioned:
    """A provisioned kiosk: its broker account, the server's script and its config file."""

    site: str
    kiosk: str
    name: str
    place: str
    username: str
    password: str
    endpoint: BrokerEndpoint
    server_script: str
    kiosk_steps: str
    config_toml: str


class WebAdmin:
    """Admin reads and kiosk provisioning."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def sites(self) -> list[dict[str, Any]]:
        """Every site with its settings and kiosks (name, place and slot count)."""
        with self.ctx.store.read() as s:
            out = []
            for st in s.scalars(select(Site).order_by(Site.code)):
                kiosks = s.execute(select(Kiosk.code, Kiosk.name, Kiosk.place,
                                          func.count(Slot.id)).join(
                    Slot, Slot.kiosk_id == Kiosk.id, isouter=True).where(
                    Kiosk.site_id == st.id).group_by(Kiosk.id).order_by(Kiosk.code)).all()
                out.append({"code": st.code, "name": st.name, "timezone": st.timezone,
                            "assignment_mode": st.assignment_mode,
                            "breaches_before_parent_collection":
                                st.breaches_before_parent_collection,
                            "retention_days": st.retention_days,
                            "release_opens": st.release_opens,
                            "release_closes": st.release_closes, "late_after": st.late_after,
                            "kiosks": [{"code": k, "name": name or k, "place": place,
                                        "slots": n} for k, name, place, n in kiosks]})
            return out

    def staff(self) -> list[dict[str, Any]]:
        """Every staff account (no secrets)."""
        with self.ctx.store.read() as s:
            return [_staff_row(st) for st in
                    s.scalars(_visible_staff(select(Staff).order_by(Staff.username)))]

    def staff_member(self, username: str) -> dict[str, Any] | None:
        """One staff account (no secrets), or None."""
        with self.ctx.store.read() as s:
            row = s.scalar(_visible_staff(select(Staff).where(Staff.username == username)))
            return _staff_row(row) if row else None

    def provision_kiosk(self, actor: str, site: str, kiosk: str,
                        endpoint: BrokerEndpoint) -> Provisioned:
        """Make a kiosk's broker password, the server's script and the kiosk's config
        (recorded; the password is not)."""
        with self.ctx.action(actor, "kiosk.provision", roles=ADMIN) as act:
            st = self.ctx.site(act.session, site)
            k = self.ctx.kiosk(act.session, st, kiosk)
            password = new_password()
            username = kiosk_username(st.code, k.code)
            config = KioskConfig(
                site=st.code, kiosk=k.code, card_key=st.card_hash_key,
                state_dir=Path("/var/lib/lockers"),
                pinmap=Path("/opt/lockers/hardware/pinmaps/bank16.toml"),
                readers=[ReaderConfig(role="arrival", name="ACR122U")],
                broker=BrokerConfig(host=endpoint.host, port=endpoint.port, username=username,
                                    password=password,
                                    tls_ca=Path(TLS_DIR) / "ca.crt" if endpoint.tls else None))
            act.audit("kiosk", f"{st.code}/{k.code}", reason="provisioned",
                      detail={"broker_user": username, "broker": endpoint.words})
            name = k.name or k.code
            return Provisioned(
                st.code, k.code, name, k.place, username, password, endpoint,
                server_script(st.code, k.code, name, username, password, endpoint),
                kiosk_steps(st.code, k.code, endpoint),
                dump_kiosk_config(config, header=f"Kiosk {name}: copy to /etc/lockers/"
                                                 "kiosk.toml on its Pi (install-kiosk.sh "
                                                 "does)"))


def _staff_row(st: Staff) -> dict[str, Any]:
    return {"username": st.username, "name": st.display_name, "role": st.role,
            "active": st.active, "kiosk_card": st.card_hash is not None}
