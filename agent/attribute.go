package agent

import (
	"strings"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/selinux"
)

// Attribution methods (detect.Subject.By).
const (
	ByLabel    = "label"     // the SELinux domain in subj=
	ByExe      = "exe"       // the executable is the compartment's
	ByParent   = "parent"    // an ancestor in the same session runs a compartment's executable
	BySession  = "session"   // a login session of one of the role's accounts
	ByLoginUID = "login-uid" // the login uid names one of the role's accounts
)

// Subject kinds (detect.Subject.Kind).
const (
	KindCompartment = "compartment"
	KindRole        = "role"
)

// maxChain bounds the ancestors examined for an inherited compartment.
const maxChain = 64

// attributor attributes processes to compartments and roles.
type attributor struct {
	p *policy.Policy
	// domains maps SELinux domain types to compartment and role names,
	// objects maps object types to resource, channel or compartment
	// names (from the SELinux compiler's naming, see policy/selinux).
	domains map[string]string
	objects map[string]string
	// accounts maps login account names to roles.
	accounts map[string]string
	// network lists the compartments that serve or are clients of a
	// network channel.
	network map[string]bool
	// sessions maps login session ids to account names.
	sessions *boundedMap[uint32, string]
	// users caches uid to account name lookups.
	users      *boundedMap[uint32, string]
	lookupUser func(uid uint32) (string, bool)
	// exes caches the executables of processes the tracker never saw
	// (started before the agent), from lookupExe.
	exes      *boundedMap[int, string]
	lookupExe func(pid int) (string, bool)
	// memo caches attributions of process images (without a label): a
	// process's events come in runs, and every event also attributes its
	// parent. An entry is used only while what it was computed from —
	// the image's executable, session and links, the sessions learned —
	// is unchanged.
	memo *boundedMap[*audit.Process, memoEntry]
	// inheritMemo caches inherited (independent of sessions learned).
	inheritMemo *boundedMap[*audit.Process, memoEntry]
	// gen counts changes to the sessions table.
	gen uint32
	// subjects interns the subjects the caches refer to (there are only
	// as many as compartments and roles times attribution methods).
	subjects   []detect.Subject
	subjectIdx map[detect.Subject]uint16
	// ids caches formatted process identities.
	ids *boundedMap[*audit.Process, idText]
}

// memoEntry is a cached attribution (an index in subjects) and what it
// was computed from.
type memoEntry struct {
	exe                      string
	ses                      uint32
	gen                      uint32
	subj                     uint16
	parentPID, prevPID       int32
	parentSerial, prevSerial uint64
}

// memoSize bounds each attribution cache: the processes active at a time
// are far fewer than the images the tracker remembers.
const memoSize = 16384

// key makes the memo entry of p with subject index subj.
func (a *attributor) key(p *audit.Process, subj uint16, gen uint32) memoEntry {
	return memoEntry{exe: p.Exe, ses: p.Ses, gen: gen, subj: subj,
		parentPID: int32(p.Parent.PID), prevPID: int32(p.Prev.PID), parentSerial: p.Parent.Serial, prevSerial: p.Prev.Serial}
}

// valid reports whether m was computed from p as it is now.
func (m memoEntry) valid(p *audit.Process, gen uint32) bool {
	return m.exe == p.Exe && m.ses == p.Ses && m.gen == gen &&
		m.parentPID == int32(p.Parent.PID) && m.prevPID == int32(p.Prev.PID) &&
		m.parentSerial == p.Parent.Serial && m.prevSerial == p.Prev.Serial
}

// intern returns the index of s in a.subjects, adding it if new.
func (a *attributor) intern(s detect.Subject) uint16 {
	if i, ok := a.subjectIdx[s]; ok {
		return i
	}
	i := uint16(len(a.subjects))
	a.subjects = append(a.subjects, s)
	a.subjectIdx[s] = i
	return i
}

func newAttributor(p *policy.Policy, lookupUser func(uint32) (string, bool), lookupExe func(int) (string, bool)) *attributor {
	a := &attributor{
		p:           p,
		domains:     map[string]string{},
		objects:     map[string]string{},
		accounts:    map[string]string{},
		network:     map[string]bool{},
		sessions:    newBoundedMap[uint32, string](16384),
		users:       newBoundedMap[uint32, string](4096),
		exes:        newBoundedMap[int, string](4096),
		memo:        newBoundedMap[*audit.Process, memoEntry](memoSize),
		inheritMemo: newBoundedMap[*audit.Process, memoEntry](memoSize),
		subjectIdx:  map[detect.Subject]uint16{},
		ids:         newBoundedMap[*audit.Process, idText](memoSize),
		lookupUser:  lookupUser,
		lookupExe:   lookupExe,
	}
	for _, r := range p.Roles {
		for _, acct := range r.Accounts {
			a.accounts[acct] = r.Name
		}
	}
	for _, ch := range p.Channels {
		if !ch.Network() {
			continue
		}
		if ch.Server != "" {
			a.network[ch.Server] = true
		}
		for _, c := range ch.Clients {
			a.network[c] = true
		}
	}
	// The SELinux compiler names the types; when it cannot compile the
	// policy (a path file_contexts cannot express), fall back to its
	// naming convention <name>_t.
	if out, err := selinux.Compile(p, nil); err == nil {
		for name, dom := range out.Domains {
			a.domains[dom] = name
		}
		for typ, info := range out.Types {
			if info.Entity == "" || info.Attribute {
				continue
			}
			if _, isDomain := a.domains[typ]; isDomain {
				continue
			}
			if _, ok := p.Entity(info.Entity); ok {
				a.objects[typ] = info.Entity
			}
		}
		for name, dom := range out.Domains {
			if p.Compartment(name) != nil {
				a.objects[dom] = name // a compartment as a process object
			}
		}
	} else {
		for _, c := range p.Compartments {
			a.domains[c.Name+"_t"] = c.Name
			a.objects[c.Name+"_t"] = c.Name
		}
		for _, r := range p.Roles {
			a.domains[r.Name+"_t"] = r.Name
		}
		for _, r := range p.Resources {
			a.objects[r.Name+"_t"] = r.Name
		}
	}
	return a
}

// labelType returns the type of an SELinux context user:role:type[:level],
// or "" for anything else (AppArmor profiles, "unconfined").
func labelType(label string) string {
	_, rest, ok := strings.Cut(label, ":")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	typ, _, _ := strings.Cut(rest, ":")
	return typ
}

// subjectNamed returns the subject for a compartment or role name.
func (a *attributor) subjectNamed(name, by string) detect.Subject {
	if c := a.p.Compartment(name); c != nil {
		return detect.Subject{Kind: KindCompartment, Name: name, Tier: c.Tier.String(), By: by, Network: a.network[name]}
	}
	if a.p.Role(name) != nil {
		return detect.Subject{Kind: KindRole, Name: name, By: by}
	}
	return detect.Subject{}
}

// compartment returns the subject of the compartment whose executable is
// exe, if any.
func (a *attributor) compartment(exe, by string) (detect.Subject, bool) {
	if exe == "" || exe[0] != '/' {
		return detect.Subject{}, false
	}
	if c := a.p.CompartmentByExecutable(exe); c != nil {
		return a.subjectNamed(c.Name, by), true
	}
	return detect.Subject{}, false
}

// attribute decides who process p acts for: by its SELinux label, by its
// executable, by an ancestor in the same login session that runs a
// compartment's executable (an exec without a domain transition stays in
// its domain) — unless that ancestor is the program that started the
// session (sshd, login: the session belongs to the person) —, by its login
// session, or by its login uid. label may be
// empty; t resolves ancestors. p may be nil for events without a process.
func (a *attributor) attribute(t *audit.Tracker, p *audit.Process, label string) detect.Subject {
	if typ := labelType(label); typ != "" {
		if name, ok := a.domains[typ]; ok {
			return a.subjectNamed(name, ByLabel)
		}
	}
	if p == nil {
		return detect.Subject{}
	}
	if m, ok := a.memo.get(p); ok && m.valid(p, a.gen) {
		return a.subjects[m.subj]
	}
	s := a.attributeProcess(t, p)
	a.memo.put(p, a.key(p, a.intern(s), a.gen))
	return s
}

// attributeProcess attributes p by its executable, its ancestors, its
// session or its login uid.
func (a *attributor) attributeProcess(t *audit.Tracker, p *audit.Process) detect.Subject {
	if s, ok := a.compartment(p.Exe, ByExe); ok {
		return s
	}
	if s := a.inherited(t, p, 0); s.Kind != "" {
		return s
	}
	return a.role(p.Ses, p.AUID)
}

// inherited returns the compartment p inherits from its ancestors — the
// image it replaced (same pid), else its parent, and so on — within its
// login session: the first one running a compartment's executable, unless
// that one started the session (the login program hands over to the
// session's person). Results are memoised per image, so that a new
// process costs one step, not a walk to the root.
func (a *attributor) inherited(t *audit.Tracker, p *audit.Process, depth int) detect.Subject {
	if m, ok := a.inheritMemo.get(p); ok && m.valid(p, 0) {
		return a.subjects[m.subj]
	}
	var s detect.Subject
	next := p.Prev
	if next.IsZero() {
		next = p.Parent
	}
	var anc *audit.Process
	if !next.IsZero() {
		anc = t.Get(next)
	}
	switch {
	case anc == nil:
		// Not seen (started before the agent): ask the system for the
		// parent's executable, once. Not within a login session: the
		// parent could be the login program.
		if a.lookupExe != nil && p.PPID > 1 && p.Ses == audit.Unset {
			exe, ok := a.exes.get(p.PPID)
			if !ok {
				exe, _ = a.lookupExe(p.PPID)
				a.exes.put(p.PPID, exe)
			}
			s, _ = a.compartment(exe, ByParent)
		}
	case anc.Ses != p.Ses:
		// a login: the session starts a new subject
	default:
		if c, ok := a.compartment(anc.Exe, ByParent); ok {
			if p.Ses == audit.Unset || !a.sessionLeader(t, anc) {
				s = c
			}
		} else if depth < maxChain {
			s = a.inherited(t, anc, depth+1)
		}
	}
	a.inheritMemo.put(p, a.key(p, a.intern(s), 0))
	return s
}

// sessionLeader reports whether p started its login session: its parent
// is in another session, or unknown.
func (a *attributor) sessionLeader(t *audit.Tracker, p *audit.Process) bool {
	next := p.Prev
	if next.IsZero() {
		next = p.Parent
	}
	if next.IsZero() {
		return true
	}
	q := t.Get(next)
	return q == nil || q.Ses != p.Ses
}

// role attributes by login session, then login uid.
func (a *attributor) role(ses, auid uint32) detect.Subject {
	if ses != audit.Unset {
		if acct, ok := a.sessions.get(ses); ok {
			if r, ok := a.accounts[acct]; ok {
				return a.subjectNamed(r, BySession)
			}
		}
	}
	if auid != audit.Unset && a.lookupUser != nil && len(a.accounts) > 0 {
		name, ok := a.users.get(auid)
		if !ok {
			name, _ = a.lookupUser(auid)
			a.users.put(auid, name)
		}
		if r, ok := a.accounts[name]; ok {
			return a.subjectNamed(r, ByLoginUID)
		}
	}
	return detect.Subject{}
}

// observeLogin learns login sessions from USER_LOGIN, USER_START and
// LOGIN records: the session id and the account (acct=, or the login uid
// looked up, or auditd's enriched AUID=).
func (a *attributor) observeLogin(e *audit.Event) {
	for _, r := range e.Records {
		switch r.Type {
		case audit.TypeUserLogin, audit.TypeUserStart, audit.TypeLogin:
		default:
			continue
		}
		if res, ok := r.Get("res"); ok && res != "success" && res != "1" {
			continue
		}
		ses, ok := r.Uint("ses")
		if !ok || ses == audit.Unset {
			continue
		}
		acct, _ := r.Get("acct")
		if acct == "" || acct == "?" {
			acct, _ = r.Enriched("AUID")
		}
		if acct == "" || acct == "?" {
			if auid, ok := r.Uint("auid"); ok && auid != audit.Unset && a.lookupUser != nil {
				acct, _ = a.lookupUser(uint32(auid))
			}
		}
		if acct != "" && acct != "?" {
			if prev, ok := a.sessions.get(uint32(ses)); !ok || prev != acct {
				a.sessions.put(uint32(ses), acct)
				a.gen++ // cached attributions may now be by session
			}
		}
	}
}

// execID returns p.ID.String(), cached: every event formats its process's
// identity, and its parent's.
func (a *attributor) execID(p *audit.Process) string {
	if s, ok := a.ids.get(p); ok && s.id == p.ID {
		return s.text
	}
	text := p.ID.String()
	a.ids.put(p, idText{p.ID, text})
	return text
}

// idText is a formatted ExecID.
type idText struct {
	id   audit.ExecID
	text string
}

// forgetExe drops the cached executable of pid (it exec'd).
func (a *attributor) forgetExe(pid int) { a.exes.del(pid) }

// boundedMap is a map that forgets its oldest entries beyond a size.
type boundedMap[K comparable, V any] struct {
	m     map[K]V
	order []K
	max   int
}

func newBoundedMap[K comparable, V any](max int) *boundedMap[K, V] {
	return &boundedMap[K, V]{m: map[K]V{}, max: max}
}

func (b *boundedMap[K, V]) get(k K) (V, bool) { v, ok := b.m[k]; return v, ok }

func (b *boundedMap[K, V]) put(k K, v V) {
	if _, ok := b.m[k]; !ok {
		b.order = append(b.order, k)
	}
	b.m[k] = v
	for len(b.m) > b.max && len(b.order) > 0 {
		delete(b.m, b.order[0])
		b.order = b.order[1:]
	}
	if len(b.order) > 4*b.max { // deleted keys pile up in order
		live := b.order[:0]
		for _, k := range b.order {
			if _, ok := b.m[k]; ok {
				live = append(live, k)
			}
		}
		b.order = live
	}
}

func (b *boundedMap[K, V]) del(k K) { delete(b.m, k) }
