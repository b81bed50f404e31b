"""SMS and robocalls: phone numbers in E.164, and a provider speaking Twilio's REST API.

A provider answers each attempt the way the email dispatcher's SMTP outcomes do
(DESIGN.md): accepted (with the provider's id), temporary (429, 5xx, a timeout or
a dropped connection: retry later) or permanent (any other 4xx: the provider's own
code and words are kept and shown). Only the provider's "accepted" is known here:
like "sent" for email, it does not mean the phone received it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote
from xml.sax.saxutils import escape

import httpx
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


# -- numbers -------------------------------------------------------------------------
class NumberError(ValueError):
    """A number that cannot be used; `reason` is one of the short reasons below."""

    NOT_A_NUMBER = "not a phone number"
    NOT_MOBILE = "not a mobile number"
    INVALID = "invalid for region"

    def __init__(self, reason: str, raw: str, region: str) -> None:
        self.reason, self.raw, self.region = reason, raw, region
        detail = {
            self.NOT_A_NUMBER: f"{raw!r} is not a phone number",
            self.NOT_MOBILE: f"{raw!r} is not a mobile number (SMS needs a mobile; a landline can get a RoboCall)",
            self.INVALID: f"{raw!r} is invalid for region {region} (check the digits, or give the country "
                          f"code for another country, e.g. +{phonenumbers.country_code_for_region(region) or 61})",
        }[reason]
        super().__init__(detail)


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber:
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except NumberParseException:
        raise NumberError(NumberError.NOT_A_NUMBER, text, region) from None
    if not phonenumbers.is_valid_number(number):
        raise NumberError(NumberError.INVALID, text, region)
    return number


def normalise_number(raw: str, region: str = "AU", *, sms: bool = False) -> str:
    """The number in E.164 (+61412345678), read as written in `region` unless it has a
    country code. With sms=True it must also be a mobile number."""
    number = _parse(raw, region)
    if sms and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise NumberError(NumberError.NOT_MOBILE, (raw or "").strip(), region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(raw: str, region: str = "AU") -> bool:
    """Whether the number can receive SMS (a mobile); False for landlines and non-numbers."""
    try:
        return phonenumbers.number_type(_parse(raw, region)) in MOBILE_TYPES
    except NumberError:
        return False


def is_region(code: str) -> bool:
    return (code or "").upper() in phonenumbers.SUPPORTED_REGIONS


# -- one attempt's result ----------------------------------------------------------------
@dataclass(frozen=True)
class SmsResult:
    ok: bool                     # accepted by the provider
    temporary: bool              # not accepted, worth trying again later
    code: int | None = None      # the provider's error code (e.g. 21211), or the HTTP status
    message: str = ""            # what the provider said, in its words
    sid: str | None = None       # the provider's id for the message or call
    status: int | None = None    # HTTP status, when there was an answer

    @property
    def throttled(self) -> bool:
        """The provider said "too many requests": slow down, not just this message."""
        return self.status == 429

    @property
    def credentials_refused(self) -> bool:
        """Our account or token was refused: no message can go until the settings change."""
        return self.status in (401, 403)

    @property
    def outcome(self) -> str:
        """As message_attempts records it: sent | temporary | permanent."""
        return "sent" if self.ok else "temporary" if self.temporary else "permanent"

    @property
    def reply(self) -> str:
        """One line for the message row and the attempt history."""
        if self.ok:
            return f"accepted by the provider: {self.message} ({self.sid})"
        return self.message


class Provider(Protocol):
    async def send_sms(self, to: str, body: str) -> SmsResult: ...

    async def call(self, to: str, text: str) -> SmsResult: ...

    async def aclose(self) -> None: ...


def twiml_say(text: str) -> str:
    """A call that reads the text out; the text is escaped so it can never become markup."""
    return f"<Response><Say>{escape(text)}</Say></Response>"


class TwilioProvider:
    """Twilio's Programmable Messaging and Voice REST API, over one HTTP client
    (connections are reused between messages)."""

    def __init__(self, base_url: str, account_sid: str, token: str | None, from_number: str,
                 verify_tls: bool = True, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.from_number = from_number
        self._client = httpx.AsyncClient(
            auth=(account_sid, token or ""), verify=verify_tls, timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "commstui"})

    async def __aenter__(self) -> "TwilioProvider":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def _url(self, resource: str) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{quote(self.account_sid, safe='')}/{resource}.json"

    async def send_sms(self, to: str, body: str) -> SmsResult:
        return await self._post("Messages", {"To": to, "From": self.from_number, "Body": body})

    async def call(self, to: str, text: str) -> SmsResult:
        return await self._post("Calls", {"To": to, "From": self.from_number, "Twiml": twiml_say(text)})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, resource: str, form: dict[str, str]) -> SmsResult:
        try:
            response = await self._client.post(self._url(resource), data=form)
        except httpx.TimeoutException as exc:
            return SmsResult(False, True, message=f"no answer from the provider in time ({type(exc).__name__})")
        except httpx.TransportError as exc:
            # refused, reset, dropped before the answer, TLS failure: the message may be tried again
            return SmsResult(False, True, message=f"could not reach the provider: {type(exc).__name__}: "
                                                  f"{exc or 'connection lost'}")
        return classify(response)


def classify(response: httpx.Response) -> SmsResult:
    """Map the provider's answer to accepted / temporary / permanent."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    if status in (200, 201):
        sid = data.get("sid")
        if sid:
            return SmsResult(True, False, message=str(data.get("status") or "accepted"), sid=str(sid),
                             status=status)
        # it may have gone: retrying could send it twice, so it stops here for a person to look at
        return SmsResult(False, False, code=status, status=status,
                         message=f"HTTP {status} from the provider without a message id; check the "
                                 f"provider's log before sending again")
    code = data.get("code")
    words = str(data.get("message") or "").strip() or _snippet(response) or response.reason_phrase
    prefix = f"HTTP {status}" + (f", error {code}" if code else "")
    temporary = status == 429 or status >= 500
    if status in (401, 403):
        words += " (check the account SID and auth token in the SMS settings)"
    return SmsResult(False, temporary, code=int(code) if isinstance(code, int) else status,
                     message=f"{prefix}: {words}", status=status)


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200]
