package forensics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/forensics"
	"github.com/rampart-sec/rampart/forensics/report"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// The live scenario (live_linux_test.go): a stand-in network-facing
// service (the test binary, copied to DIR/bin/webapp and re-executed in
// service mode) accepts a connection and runs the line it reads with
// /bin/sh -c — a command injection. The injected command reads a file
// labelled secret and sends it to a loopback listener. The agent records
// everything in a ledger; the investigation from the outgoing connection
// must name the entry point, the secret, the compromised compartment and
// "rotate secret". A run captured with RAMPART_LIVE_CAPTURE is kept in
// testdata/live and replayed here without root.

// scenarioPolicy is the policy of the scenario; DIR and PORT are filled
// in.
const scenarioPolicy = `policy {
  name        = "investigate-live-scenario"
  description = "a network-facing web service and a trusted backend"
}

compartment "webapp" {
  description = "stand-in network-facing service"
  tier        = "network-facing"
  executables = ["DIR/bin/webapp"]
  allow {
    verbs = ["read"]
    on    = ["api_token", "webapp_content"]
  }
}

compartment "backend" {
  tier        = "trusted"
  executables = ["DIR/bin/backend"]
  allow {
    verbs = ["read"]
    on    = ["db_password"]
  }
  allow {
    verbs = ["read", "write", "create"]
    on    = ["backend_data"]
  }
}

resource "api_token" {
  kind   = "file"
  paths  = ["DIR/secrets/api_token"]
  labels = ["secret"]
  owner  = "webapp"
}

resource "db_password" {
  kind   = "file"
  paths  = ["DIR/secrets/db_password"]
  labels = ["secret"]
  owner  = "backend"
}

resource "webapp_content" {
  kind  = "directory"
  paths = ["DIR/www/**"]
}

resource "backend_data" {
  kind   = "directory"
  paths  = ["DIR/data/**"]
  labels = ["integrity-critical"]
}

channel "web" {
  protocol = "tcp"
  ports    = [PORT]
  server   = "webapp"
  remote   = ["any"]
}

channel "backend_api" {
  protocol = "unix"
  path     = "DIR/backend.sock"
  server   = "backend"
  clients  = ["webapp"]
}
`

// scenarioInfo is what the replay test needs to know of a captured run.
type scenarioInfo struct {
	ServicePort int    `json:"service_port"`
	ExfilPort   int    `json:"exfil_port"`
	Secret      string `json:"secret"`
	Dir         string `json:"dir"`
}

// checkScenario investigates the scenario's ledger: from the alert on the
// outgoing connection without the keyring (pseudonymised addresses), and
// from the outgoing connection's address with it.
func checkScenario(t *testing.T, info scenarioInfo, polText, ledDir, pub string, kr *privacy.Keyring) {
	t.Helper()
	p, err := policy.Parse("policy.hcl", []byte(polText))
	if err != nil {
		t.Fatal(err)
	}
	src := forensics.Sources{Ledgers: []forensics.LedgerSource{{Dir: ledDir, Keys: []string{pub}}}}

	inv, err := forensics.Load(src, forensics.Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	// the agent raised a deviation on the connection (webapp has no
	// outbound channel): start from that alert
	alert := 0
	for i, a := range inv.Alerts {
		t.Logf("alert %d: %s %s: %s", i+1, a.Source, a.Rule, a.Description)
		if a.Source == "deviation" && strings.Contains(a.Description, "connect") {
			alert = i + 1
		}
	}
	if alert == 0 {
		t.Fatalf("no deviation alert on the connection among %d alerts", len(inv.Alerts))
	}
	rep := runQuery(t, inv, forensics.Query{Direction: forensics.Backward, Start: "alert:" + strconv.Itoa(alert)})
	checkFindings(t, "pseudonymised", rep, info, false)

	// with the keyring: the real addresses, from the endpoint itself
	inv2, err := forensics.Load(src, forensics.Options{Policy: p, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	rep2 := runQuery(t, inv2, forensics.Query{Direction: forensics.Backward, Start: fmt.Sprintf("endpoint:127.0.0.1:%d", info.ExfilPort)})
	checkFindings(t, "revealed", rep2, info, true)
	if dir := os.Getenv("RAMPART_LIVE_CAPTURE"); dir != "" {
		f, _ := os.Create(filepath.Join(dir, "report.html"))
		report.HTML(f, rep2)
		f.Close()
		f, _ = os.Create(filepath.Join(dir, "report.txt"))
		report.Text(f, rep2)
		f.Close()
	}
}

// checkFindings asserts what the issue asks the scenario to show.
func checkFindings(t *testing.T, what string, rep *forensics.Report, info scenarioInfo, revealed bool) {
	t.Helper()
	var text strings.Builder
	report.Text(&text, rep)
	rc := rep.RootCause
	if len(rc.EntryPoints) == 0 {
		t.Fatalf("%s: no entry point\n%s", what, text.String())
	}
	ep := rc.EntryPoints[0]
	local := fmt.Sprintf(":%d", info.ServicePort)
	if ep.Kind != forensics.EntryInbound || !strings.HasSuffix(ep.Node.Name, local) || ep.Into == nil || ep.Into.Compartment != "webapp" {
		t.Errorf("%s: first entry point %+v, want the connection accepted by webapp on port %d\n%s", what, ep, info.ServicePort, text.String())
	}
	if revealed && !strings.HasPrefix(ep.Node.Name, "endpoint 127.0.0.1:") {
		t.Errorf("%s: entry point %q not revealed", what, ep.Node.Name)
	}
	if len(rc.Compromised) != 1 || rc.Compromised[0] != "webapp" {
		t.Errorf("%s: compromised %v, want [webapp]", what, rc.Compromised)
	}
	found := false
	for _, s := range rep.Impact.Secrets {
		if s.Resource == info.Secret && !s.Before {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: secrets read %+v, want %s\n%s", what, rep.Impact.Secrets, info.Secret, text.String())
	}
	rotate := false
	for _, c := range rep.Countermeasures {
		if c.Action == "rotate" && strings.HasPrefix(c.Target, "secret "+info.Secret) {
			rotate = true
		}
	}
	if !rotate {
		t.Errorf("%s: no \"rotate secret %s\" among %v", what, info.Secret, rep.Countermeasures)
	}
	var b *forensics.Bound
	for i := range rep.Bounds {
		if rep.Bounds[i].Compartment == "webapp" {
			b = &rep.Bounds[i]
		}
	}
	if b == nil {
		t.Fatalf("%s: no bound for webapp: %+v", what, rep.Bounds)
	}
	has := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	if !has(b.Reached, "read api_token (secret)") || !has(b.CannotReach, "db_password (secret)") || !has(b.CannotReach, "compartment backend") ||
		!has(b.CouldReach, "channel backend_api") {
		t.Errorf("%s: bound %s", what, b.Summary())
	}
	if !strings.Contains(text.String(), "rotate secret "+info.Secret) {
		t.Errorf("%s: the text report does not say rotate secret %s:\n%s", what, info.Secret, text.String())
	}
}

func runQuery(t *testing.T, inv *forensics.Investigation, q forensics.Query) *forensics.Report {
	t.Helper()
	rep, err := inv.Run(q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
