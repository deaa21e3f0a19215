"""What the admin pages read, and kiosk provisioning: the kiosk's broker account and the
config file to copy onto its Pi."""

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


@dataclass(frozen=True)
class Provisioned:
    """A provisioned kiosk: its broker account and its config file."""

    site: str
    kiosk: str
    username: str
    password: str
    config_toml: str


class WebAdmin:
    """Admin reads and kiosk provisioning."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def sites(self) -> list[dict[str, Any]]:
        """Every site with its settings and kiosks (and their slot counts)."""
        with self.ctx.store.read() as s:
            out = []
            for st in s.scalars(select(Site).order_by(Site.code)):
                kiosks = s.execute(select(Kiosk.code, func.count(Slot.id)).join(
                    Slot, Slot.kiosk_id == Kiosk.id, isouter=True).where(
                    Kiosk.site_id == st.id).group_by(Kiosk.code).order_by(Kiosk.code)).all()
                out.append({"code": st.code, "name": st.name, "timezone": st.timezone,
                            "assignment_mode": st.assignment_mode,
                            "breaches_before_parent_collection":
                                st.breaches_before_parent_collection,
                            "retention_days": st.retention_days,
                            "release_opens": st.release_opens,
                            "release_closes": st.release_closes, "late_after": st.late_after,
                            "kiosks": [{"code": k, "slots": n} for k, n in kiosks]})
            return out

    def staff(self) -> list[dict[str, Any]]:
        """Every staff account (no secrets)."""
        q = select(Staff).order_by(Staff.username)
        scope = tenancy.current()
        if scope is not None:  # one school's admin sees that school's staff and the trust's
            q = q.where(Staff.site_id.in_(scope.visible) | Staff.site_id.is_(None))
        with self.ctx.store.read() as s:
            return [{"username": st.username, "name": st.display_name, "role": st.role,
                     "active": st.active, "kiosk_card": st.card_hash is not None}
                    for st in s.scalars(q)]

    def provision_kiosk(self, actor: str, site: str, kiosk: str, broker_host: str,
                        broker_port: int, tls_ca: str | None) -> Provisioned:
        """Make a kiosk's broker password and its config (recorded, the password is not)."""
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
                broker=BrokerConfig(host=broker_host, port=broker_port, username=username,
                                    password=password,
                                    tls_ca=Path(tls_ca) if tls_ca else None))
            act.audit("kiosk", f"{st.code}/{k.code}", reason="provisioned",
                      detail={"broker_user": username})
            return Provisioned(st.code, k.code, username, password, dump_kiosk_config(
                config, header="Copy to /etc/lockers/kiosk.toml on the kiosk"))
