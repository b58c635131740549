package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-sec/rampart/agent"
	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
	"golang.org/x/mod/sumdb/note"
)

func agentGroup() *group {
	return &group{
		name:    "agent",
		summary: "node agent: audit events, attribution, policy deviations and detection rules, private ledger (\"rampart agent --policy P --ledger DIR\" runs it)",
		verbs: []*verb{
			{name: "run", args: "", summary: "collect audit events, detect deviations and rule matches, append them privately to the ledger", setup: agentRun, help: agentRunHelp},
			{name: "rules", args: "", summary: "print the audit rules (auditctl syntax) the policy needs", setup: agentRules, help: agentRulesHelp},
			{name: "detections", args: "", summary: "compile the detection rules (shipped and --rules) and list them", setup: agentDetections},
		},
	}
}

// agentArgs rewrites "agent --flag …" (the agent group used as a command)
// to "agent run --flag …".
func agentArgs(args []string) []string {
	if len(args) >= 2 && args[0] == "agent" && strings.HasPrefix(args[1], "-") && !isHelp(args[1]) {
		return append([]string{"agent", "run"}, args[1:]...)
	}
	return args
}

const agentRunHelp = `
Sources (one): the kernel over netlink, --mode multicast (default: read-only,
next to auditd) or --mode unicast (the agent registers as the audit daemon,
sets the backlog, rate and failure mode; fails while auditd runs); --input
FILE to ingest an audit.log and exit; --input - to read records on standard
input, as an auditd plugin (plugins.d: direction = out, format = string).

Every event is attributed to a compartment or role, its accesses judged
against the policy (alerts name the compartment, the access and the rule
it breaks: an invariant, or "no grant"), the detection rules run on it,
and it passes the privacy filter (the policy's privacy block, else the
defaults) before it is appended to the ledger as canonical JSON. Alerts
also go to standard output, one JSON line each. Lost events are counted
and recorded in the ledger.

The ledger is created on first use. Its signing key (--key, default
DIR.key) and the privacy keyring (--keyring, default the policy's, else
DIR.keyring) are created when missing, outside DIR. A restart continues
the same ledger. SIGTERM or SIGINT: the events in flight are written, a
stop entry and a final checkpoint signed. --load-rules loads the audit
rules of "rampart agent rules" and removes them on exit.
See docs/agent.md.`

const agentRulesHelp = `
The rules audit execve, connect/bind/accept, privileged syscalls (ptrace,
module loading, mount, the setuid family, bpf, signals), the file syscalls
of every compartment's executables, and watch (-w PATH -p rwa) every
resource labelled secret or integrity-critical. Load them with
"auditctl -R FILE", put them in /etc/audit/rules.d/, or let the agent load
them with "rampart agent run --load-rules".`

// loadAgentPolicy loads the policy named by --policy.
func loadAgentPolicy(paths []string) (*policy.Policy, error) {
	if len(paths) == 0 {
		return nil, usagef("--policy is required")
	}
	return policy.Load(paths...)
}

func agentRules(fs *flag.FlagSet) func(*ctx, []string) error {
	var pol listFlag
	fs.Var(&pol, "policy", "policy file or directory (repeatable) (required)")
	arch := fs.String("arch", "", "machine the rules are for: x86_64 or aarch64 (default: this one)")
	iperm := fs.String("integrity-perm", "rwa", "permissions watched on integrity-critical resources (wa: changes only)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, ""); err != nil {
			return err
		}
		p, err := loadAgentPolicy(pol)
		if err != nil {
			return err
		}
		opts := agent.AuditRuleOptions{IntegrityPerm: *iperm}
		switch *arch {
		case "":
		case "x86_64", "amd64":
			opts.Arch = audit.ArchX86_64
		case "aarch64", "arm64":
			opts.Arch = audit.ArchAArch64
		default:
			return usagef("--arch %q: want x86_64 or aarch64", *arch)
		}
		rs, err := agent.AuditRules(p, opts)
		if err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(rs)
		}
		_, err = fmt.Fprint(c.stdout, agent.FormatAuditRules(p, rs))
		return err
	}
}

// loadDetections compiles the shipped rules (unless none) and the rule
// files or directories given.
func loadDetections(paths []string, shipped bool) (*detect.Rules, error) {
	env, err := detect.NewEnv()
	if err != nil {
		return nil, err
	}
	var sets []*detect.Rules
	if shipped {
		rs, err := env.LoadFS(rules.FS, ".")
		if err != nil {
			return nil, fmt.Errorf("shipped rules: %w", err)
		}
		sets = append(sets, rs)
	}
	if len(paths) > 0 {
		rs, err := env.Load(paths...)
		if err != nil {
			return nil, err
		}
		sets = append(sets, rs)
	}
	if len(sets) == 0 {
		return &detect.Rules{}, nil
	}
	return sets[0].Merge(sets[1:]...)
}

func agentDetections(fs *flag.FlagSet) func(*ctx, []string) error {
	var dirs listFlag
	fs.Var(&dirs, "rules", "detection rule file or directory of *.cel files (repeatable)")
	noShipped := fs.Bool("no-shipped-rules", false, "leave out the rules shipped with rampart")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, ""); err != nil {
			return err
		}
		rs, err := loadDetections(dirs, !*noShipped)
		if err != nil {
			var de *detect.Error
			if errors.As(err, &de) {
				return &failure{msg: "detection rules do not compile:\n" + de.Error()}
			}
			return err
		}
		type ruleOut struct {
			Name        string   `json:"name"`
			Severity    string   `json:"severity"`
			Description string   `json:"description,omitempty"`
			Tags        []string `json:"tags,omitempty"`
			File        string   `json:"file"`
		}
		var out []ruleOut
		for _, r := range rs.List() {
			out = append(out, ruleOut{r.Name, r.Severity, r.Description, r.Tags, r.File})
		}
		if c.json {
			return c.writeJSON(out)
		}
		for _, r := range out {
			fmt.Fprintf(c.stdout, "%-28s %-8s %s\n", r.Name, r.Severity, r.File)
		}
		fmt.Fprintf(c.stdout, "%d rules compiled.\n", len(out))
		return nil
	}
}

func agentRun(fs *flag.FlagSet) func(*ctx, []string) error {
	var pol, dirs listFlag
	fs.Var(&pol, "policy", "policy file or directory (repeatable) (required)")
	ledgerDir := fs.String("ledger", "", "ledger directory: created on first use, continued on restart (required)")
	keyPath := fs.String("key", "", "ledger signing key, outside the ledger (default DIR.key; generated when missing)")
	origin := fs.String("origin", "", "ledger origin when the key is generated (default HOSTNAME/rampart-agent)")
	keyring := fs.String("keyring", "", "privacy keyring (default: the policy's privacy keyring, else DIR.keyring; generated when missing)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on ADDR (host:port) at /metrics")
	mode := fs.String("mode", "multicast", "netlink mode: multicast (read-only, next to auditd) or unicast (own audit)")
	input := fs.String("input", "", "read an audit log FILE instead of the kernel (offline), or - for standard input (auditd plugin)")
	fs.Var(&dirs, "rules", "detection rule file or directory of *.cel files (repeatable), in addition to the shipped rules")
	noShipped := fs.Bool("no-shipped-rules", false, "leave out the detection rules shipped with rampart")
	loadRules := fs.Bool("load-rules", false, "load the policy's audit rules (see \"agent rules\") and remove them on exit")
	iperm := fs.String("integrity-perm", "rwa", "with --load-rules: permissions watched on integrity-critical resources (wa: changes only)")
	heartbeat := fs.Duration("heartbeat", time.Minute, "write a heartbeat entry and sign a checkpoint this often")
	cpEvery := fs.Int("checkpoint-every", 10000, "also sign a checkpoint after this many entries")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, ""); err != nil {
			return err
		}
		if *ledgerDir == "" {
			return usagef("--ledger is required")
		}
		p, err := loadAgentPolicy(pol)
		if err != nil {
			return err
		}
		var nlMode audit.Mode
		switch *mode {
		case "multicast":
			nlMode = audit.Multicast
		case "unicast":
			nlMode = audit.Unicast
		default:
			return usagef("--mode %q: want multicast or unicast", *mode)
		}
		if *input != "" && *loadRules {
			return usagef("--load-rules needs the kernel as the source, not --input")
		}
		det, err := loadDetections(dirs, !*noShipped)
		if err != nil {
			return err
		}
		cfg := agentPrivacy(p)
		led, err := openAgentLedger(c, *ledgerDir, *keyPath, *origin)
		if err != nil {
			return err
		}
		defer led.Close()
		krPath := *keyring
		if krPath == "" {
			krPath = cfg.KeyringFile
		}
		if krPath == "" {
			krPath = filepath.Clean(*ledgerDir) + ".keyring"
		}
		if inside(*ledgerDir, krPath) {
			return usagef("the privacy keyring %s is inside the ledger directory: keep it elsewhere", krPath)
		}
		kr, err := loadOrCreateKeyring(c, krPath)
		if err != nil {
			return err
		}
		fopts := knownIdentifiers()
		if cfg.EscrowFile != "" {
			esc, err := privacy.CreateEscrow(cfg.EscrowFile, kr)
			if err != nil {
				return err
			}
			defer esc.Close()
			fopts = append(fopts, privacy.WithEscrow(esc))
		}
		source := "netlink " + *mode
		switch *input {
		case "":
		case "-":
			source = "stdin (auditd plugin)"
		default:
			source = "file " + filepath.Base(*input)
		}
		opts := agent.Options{
			Policy: p, Privacy: &cfg, Keyring: kr, FilterOptions: fopts, Ledger: led, Rules: det,
			Alerts: c.stdout, Source: source, Version: version, PolicyDigest: policyDigest(p),
			CheckpointEvery: *cpEvery, LookupUser: lookupUser,
			Log: func(msg string) { fmt.Fprintf(c.stderr, "rampart agent: %s\n", msg) },
		}
		if *input == "" {
			opts.BootID, _ = audit.BootID()
			opts.LookupExe = agent.ProcExe
		}
		a, err := agent.New(opts)
		if err != nil {
			return err
		}
		tuneGC()
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if *metricsAddr != "" {
			ln, err := net.Listen("tcp", *metricsAddr)
			if err != nil {
				return fmt.Errorf("--metrics: %w", err)
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", a.Metrics().Handler())
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			fmt.Fprintf(c.stderr, "rampart agent: metrics on http://%s/metrics\n", ln.Addr())
		}
		if err := a.Start(); err != nil {
			return err
		}
		var runErr error
		switch *input {
		case "":
			var lines []string
			if *loadRules {
				rs, err := agent.AuditRules(p, agent.AuditRuleOptions{IntegrityPerm: *iperm})
				if err != nil {
					return err
				}
				lines = agent.RuleLines(rs)
			}
			runErr = a.RunNetlink(ctx, agent.NetlinkOptions{Mode: nlMode, Rules: lines, Heartbeat: *heartbeat})
		case "-":
			runErr = a.RunReader(ctx, c.stdin, agent.ReaderOptions{Follow: true, Heartbeat: *heartbeat})
		default:
			f, err := os.Open(*input)
			if err != nil {
				return err
			}
			runErr = a.RunReader(ctx, f, agent.ReaderOptions{})
			f.Close()
		}
		reason := ""
		if runErr != nil {
			reason = runErr.Error()
		}
		closeErr := a.Close(reason)
		st := a.Stats()
		fmt.Fprintf(c.stderr, "rampart agent: %d events, %d alerts (%d deviations), %d lost, %d parse errors; ledger %s: %d entries, checkpoint %d\n",
			st.Events, st.Alerts, st.Deviations, st.LostEvents, st.ParseErrors, led.Dir(), led.Size(), checkpointSize(led))
		if runErr != nil {
			return runErr
		}
		if closeErr != nil {
			return closeErr
		}
		return led.Close()
	}
}

// tuneGC trades memory for CPU, unless GOGC or GOMEMLIMIT say otherwise:
// the agent's heap is mostly the process tracker (tens of MiB of small
// objects), which a collection at every doubling would scan too often
// (GOGC=200 saves about 15 % of the CPU on an exec-heavy load). The
// memory limit (256 MiB) makes the collector work harder before the
// process grows past it.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}

func checkpointSize(l *ledger.Ledger) uint64 {
	if cp := l.Latest(); cp != nil {
		return cp.Size
	}
	return 0
}

// agentPrivacy returns the policy's privacy configuration, or the
// defaults.
func agentPrivacy(p *policy.Policy) privacy.Config {
	if p.Privacy != nil {
		return *p.Privacy
	}
	return privacy.DefaultConfig()
}

// openAgentLedger opens the ledger in dir for writing, creating it (and
// its signing key) on first use.
func openAgentLedger(c *ctx, dir, keyPath, origin string) (*ledger.Ledger, error) {
	if keyPath == "" {
		keyPath = filepath.Clean(dir) + ".key"
	}
	if inside(dir, keyPath) {
		return nil, usagef("--key %s is inside the ledger directory: keep the signing key elsewhere", keyPath)
	}
	var signer note.Signer
	if _, err := os.Stat(keyPath); err == nil {
		if signer, err = ledger.LoadSigner(keyPath); err != nil {
			return nil, err
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if origin == "" {
			host, _ := os.Hostname()
			if host == "" {
				host = "localhost"
			}
			origin = host + "/rampart-agent"
		}
		skey, vkey, err := ledger.GenerateKey(origin)
		if err != nil {
			return nil, usagef("%v", err)
		}
		if signer, err = note.NewSigner(skey); err != nil {
			return nil, err
		}
		if err := writeNew(keyPath, skey+"\n", 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyPath+".pub", []byte(vkey+"\n"), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(c.stderr, "rampart agent: generated ledger signing key %s (public key %s.pub)\n", keyPath, keyPath)
	} else {
		return nil, err
	}
	// Entries are synced in batches (1000), and at least every second.
	lopts := &ledger.Options{SyncInterval: time.Second}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		l, err := ledger.Open(dir, signer, lopts)
		if err != nil {
			return nil, err
		}
		c.printRecovery(l)
		return l, nil
	}
	return ledger.Create(dir, signer.Name(), signer, lopts)
}

// loadOrCreateKeyring loads the privacy keyring, generating one when the
// file does not exist.
func loadOrCreateKeyring(c *ctx, path string) (*privacy.Keyring, error) {
	kr, err := privacy.LoadKeyring(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return kr, err
	}
	k, err := privacy.NewKey("k1", rand.Reader)
	if err != nil {
		return nil, err
	}
	if kr, err = privacy.NewKeyring(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := kr.WriteFile(path); err != nil {
		return nil, err
	}
	fmt.Fprintf(c.stderr, "rampart agent: generated privacy keyring %s (key k1): keep it off the ledger's disk; it reveals pseudonyms\n", path)
	return kr, nil
}

// knownIdentifiers gives the filter the node's human accounts and host
// name, pseudonymised wherever they appear in free text.
func knownIdentifiers() []privacy.Option {
	var opts []privacy.Option
	if f, err := os.Open("/etc/passwd"); err == nil {
		if names, err := privacy.ParseHumanAccounts(f, 1000); err == nil && len(names) > 0 {
			opts = append(opts, privacy.WithKnownIdentifiers(privacy.KindUser, names...))
		}
		f.Close()
	}
	if host, err := os.Hostname(); err == nil && len(host) >= 4 {
		opts = append(opts, privacy.WithKnownIdentifiers(privacy.KindHost, host))
	}
	return opts
}

// lookupUser maps a login uid to its account name.
func lookupUser(uid uint32) (string, bool) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return "", false
	}
	return u.Username, true
}

// policyDigest is the SHA-256 of the policy's files, in order.
func policyDigest(p *policy.Policy) string {
	h := sha256.New()
	files := slices.Clone(p.Files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
