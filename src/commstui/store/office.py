"""Office-wide settings (time zone, missed-run policy, pause) and dispatcher heartbeats:
what every process sharing the file must agree on lives in the file."""

from __future__ import annotations

from datetime import datetime

from ..domain import DispatcherInfo, MissedPolicy, OfficeSettings


def get_all(con) -> dict[str, str]:
    return dict(con.execute("select key, value from office_settings").fetchall())


def put(con, values: dict[str, str | None], by: str) -> None:
    for key, value in values.items():
        if value is None:
            con.execute("delete from office_settings where key = ?", [key])
        else:
            con.execute(
                "insert into office_settings (key, value, updated_by, updated_at) values (?, ?, ?, now()) "
                "on conflict (key) do update set value = excluded.value, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at", [key, value, by])


def heartbeat(con, owner: str, kind: str, started_at: datetime, now: datetime) -> None:
    con.execute("insert into dispatchers (owner, kind, started_at, seen_at) values (?, ?, ?, ?) "
                "on conflict (owner) do update set seen_at = excluded.seen_at", [owner, kind, started_at, now])


def gone(con, owner: str) -> None:
    con.execute("delete from dispatchers where owner = ?", [owner])


def dispatchers(con, seen_since: datetime) -> list[DispatcherInfo]:
    rows = con.execute("select owner, kind, started_at, seen_at from dispatchers where seen_at >= ? "
                       "order by started_at", [seen_since]).fetchall()
    return [DispatcherInfo(*r) for r in rows]


def settings(con, default_zone: str) -> tuple[OfficeSettings, str | None]:
    """The office settings (defaults where unset) and who paused dispatching, if anyone."""
    values = get_all(con)
    defaults = OfficeSettings(timezone=default_zone)
    try:
        policy = MissedPolicy(values.get("missed_policy", defaults.missed_policy))
    except ValueError:
        policy = defaults.missed_policy
    return OfficeSettings(
        timezone=values.get("timezone") or default_zone,
        missed_policy=policy,
        grace_minutes=_int(values.get("grace_minutes"), defaults.grace_minutes),
        lifetime_hours=_int(values.get("lifetime_hours"), defaults.lifetime_hours),
    ), values.get("paused_by")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
