package policy

import (
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rampart-sec/rampart/privacy"
)

// TestFileSuffix ends the names of policy unit test files (see package
// analysis/policytest). Load skips them when reading a directory, so that
// tests can live next to the policy they test.
const TestFileSuffix = "_test.hcl"

// Load reads a policy from one or more paths. A path is an HCL file, or a
// directory whose "*.hcl" files (not recursively, in name order, except
// "*_test.hcl" unit test files) are read.
// All files form one policy. On failure the error is an *Error listing
// every problem found (with I/O failures as diagnostics too).
func Load(paths ...string) (*Policy, error) {
	var ds diags
	var srcs []source
	if len(paths) == 0 {
		ds.add(hcl.Range{}, "name policy files or a directory of .hcl files", "no policy files given")
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			ds.add(hcl.Range{Filename: p}, "", "cannot read policy: %v", unwrapPathErr(err))
			continue
		}
		if !fi.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				ds.add(hcl.Range{Filename: p}, "", "cannot read policy: %v", unwrapPathErr(err))
				continue
			}
			srcs = append(srcs, source{p, b})
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			ds.add(hcl.Range{Filename: p}, "", "cannot read policy directory: %v", unwrapPathErr(err))
			continue
		}
		n := 0
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasSuffix(e.Name(), TestFileSuffix) {
				continue
			}
			name := filepath.Join(p, e.Name())
			b, err := os.ReadFile(name)
			if err != nil {
				ds.add(hcl.Range{Filename: name}, "", "cannot read policy: %v", unwrapPathErr(err))
				continue
			}
			srcs = append(srcs, source{name, b})
			n++
		}
		if n == 0 {
			ds.add(hcl.Range{Filename: p}, "policy files end in \".hcl\"", "directory has no .hcl files")
		}
	}
	if len(ds) > 0 {
		return nil, ds.err()
	}
	return build(srcs)
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Parse parses a policy held in memory; filename is used in positions.
func Parse(filename string, src []byte) (*Policy, error) {
	return build([]source{{filename, src}})
}

// ParseFiles parses a policy made of several in-memory files (name to
// contents), taken in name order.
func ParseFiles(files map[string][]byte) (*Policy, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	srcs := make([]source, len(names))
	for i, n := range names {
		srcs[i] = source{n, files[n]}
	}
	return build(srcs)
}

type source struct {
	name string
	src  []byte
}

// The language's schema.
var (
	topSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "policy"},
		{Type: "label", LabelNames: []string{"name"}},
		{Type: "compartment", LabelNames: []string{"name"}},
		{Type: "role", LabelNames: []string{"name"}},
		{Type: "resource", LabelNames: []string{"name"}},
		{Type: "channel", LabelNames: []string{"name"}},
		{Type: "spawn"},
		{Type: "allow", LabelNames: []string{"subject"}},
		{Type: "deny_access", LabelNames: []string{"name"}},
		{Type: "no_flow", LabelNames: []string{"name"}},
		{Type: "deny_spawn", LabelNames: []string{"name"}},
		{Type: "deny_capability", LabelNames: []string{"name"}},
		{Type: "privacy"},
	}}
	unitName     = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.(service|scope|socket)$`)
	policySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "description"}}}
	labelSchema  = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "description"}}}
	compSchema   = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "description"}, {Name: "tier", Required: true}, {Name: "executables"},
			{Name: "user"}, {Name: "group"}, {Name: "groups"}, {Name: "capabilities"},
			{Name: "syscalls"}, {Name: "isolate_instances"}, {Name: "unit"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "limits"}, {Type: "allow"}},
	}
	limitsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: string(LimitNoFile)}, {Name: string(LimitNProc)}, {Name: string(LimitMemory)},
		{Name: string(LimitCore)}, {Name: string(LimitCPU)}, {Name: string(LimitTasks)},
	}}
	allowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "verbs", Required: true}, {Name: "on", Required: true}}}
	roleSchema  = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "accounts"}, {Name: "enter"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "allow"}},
	}
	resourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "kind", Required: true}, {Name: "paths", Required: true},
		{Name: "labels"}, {Name: "owner"},
	}}
	channelSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "protocol", Required: true}, {Name: "path"}, {Name: "ports"},
		{Name: "server"}, {Name: "clients"}, {Name: "remote"},
	}}
	spawnSchema      = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true}}}
	denyAccessSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "subjects", Required: true}, {Name: "verbs", Required: true}, {Name: "objects", Required: true},
	}}
	noFlowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "from", Required: true}, {Name: "to", Required: true}, {Name: "except_through"},
	}}
	denySpawnSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "from", Required: true}, {Name: "to", Required: true}, {Name: "transitive"},
	}}
	denyCapSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "description"}, {Name: "subjects", Required: true}, {Name: "capabilities"},
	}}
)

// ref is a name written in the policy, with its position.
type ref struct {
	name string
	rng  hcl.Range
}

// loader carries the state of one build.
type loader struct {
	ds diags
	p  *Policy

	declared map[string]declared
	labels   map[Label]hcl.Range // declared custom labels
	invs     map[string]hcl.Range
	policyAt *hcl.Range
	// privacyAt is the privacy block's position, once seen.
	privacyAt *hcl.Range

	// positions of references, checked once everything is declared.
	ruleObjs    map[*Rule][]ref
	ruleVerbs   map[*Rule][]ref
	ruleSubject map[*Rule]ref
	spawnRefs   map[*Spawn][]ref // from, then to
	enterRefs   map[*Role][]ref
	ownerRefs   map[*Resource]ref
	serverRefs  map[*Channel]ref
	clientRefs  map[*Channel][]ref
	labelRefs   map[*Resource][]ref
	exeRanges   map[*Compartment][]hcl.Range
	chanAttrs   map[*Channel]hcl.Attributes
	verbRefs    map[*Invariant][]ref
	topRules    map[*Rule]bool // rules of top-level allow blocks
}

type declared struct {
	kind EntityKind
	rng  hcl.Range
}

type pendingBlock struct {
	block   *hcl.Block
	content *hcl.BodyContent
}

func build(srcs []source) (*Policy, error) { return buildSegmented(srcs, segmentMin) }

// blockSchemas gives each top-level block type's schema.
var blockSchemas = map[string]*hcl.BodySchema{
	"policy": policySchema, "label": labelSchema, "compartment": compSchema,
	"role": roleSchema, "resource": resourceSchema, "channel": channelSchema,
	"spawn": spawnSchema, "allow": allowSchema, "deny_access": denyAccessSchema,
	"no_flow": noFlowSchema, "deny_spawn": denySpawnSchema, "deny_capability": denyCapSchema,
}

// buildSegmented loads srcs, parsing files larger than 2·segMin in
// segments (see parseStream). Blocks are declared and, unless a syntax
// error has been seen, defined as they arrive, so that their syntax trees
// can be dropped; top-level allow blocks, which attach rules to
// compartments and roles defined anywhere, are defined at the end. The
// result does not depend on segMin.
func buildSegmented(srcs []source, segMin int) (*Policy, error) {
	l := &loader{
		p:           &Policy{},
		declared:    make(map[string]declared),
		labels:      make(map[Label]hcl.Range),
		invs:        make(map[string]hcl.Range),
		ruleObjs:    make(map[*Rule][]ref),
		ruleVerbs:   make(map[*Rule][]ref),
		ruleSubject: make(map[*Rule]ref),
		spawnRefs:   make(map[*Spawn][]ref),
		enterRefs:   make(map[*Role][]ref),
		ownerRefs:   make(map[*Resource]ref),
		serverRefs:  make(map[*Channel]ref),
		clientRefs:  make(map[*Channel][]ref),
		labelRefs:   make(map[*Resource][]ref),
		exeRanges:   make(map[*Compartment][]hcl.Range),
		chanAttrs:   make(map[*Channel]hcl.Attributes),
		verbRefs:    make(map[*Invariant][]ref),
	}
	for _, s := range srcs {
		l.p.Files = append(l.p.Files, s.name)
	}
	// Syntax errors and unknown top-level blocks make reference checks
	// unreliable (names would be missing): then only those, the blocks'
	// own structural problems and declaration problems are reported, and
	// definitions (whose diagnostics are kept apart) are dropped.
	structural := false
	var defs diags
	var topAllows []pendingBlock
	define := func(pb pendingBlock) {
		saved := l.ds
		l.ds = defs
		switch pb.block.Type {
		case "compartment":
			l.compartment(pb)
		case "role":
			l.role(pb)
		case "resource":
			l.resource(pb)
		case "channel":
			l.channel(pb)
		case "spawn":
			l.spawn(pb)
		case "allow":
			topAllows = append(topAllows, pb)
		case "deny_access", "no_flow", "deny_spawn", "deny_capability":
			l.invariant(pb)
		}
		defs = l.ds
		l.ds = saved
	}
	declare := func(b *hcl.Block) {
		if b.Type == "privacy" {
			l.privacyBlock(b) // its own schema: package privacy decodes it
			return
		}
		c, hd := b.Body.Content(blockSchemas[b.Type])
		l.ds.addHCL(hd)
		if c == nil {
			return
		}
		switch b.Type {
		case "compartment":
			l.declare(b, EntityCompartment)
		case "role":
			l.declare(b, EntityRole)
		case "resource":
			l.declare(b, EntityResource)
		case "channel":
			l.declare(b, EntityChannel)
		case "label":
			l.declareLabel(b, c)
		case "policy":
			l.policyBlock(b, c)
		case "deny_access", "no_flow", "deny_spawn", "deny_capability":
			name := b.Labels[0]
			if !validInvariantName(name) {
				l.ds.add(b.LabelRanges[0], "invariant names are lower-case letters, digits, \"_\" and \"-\", starting with a letter", "invalid invariant name %s", quote(name))
			} else if prev, dup := l.invs[name]; dup {
				l.ds.add(b.LabelRanges[0], "rename one of them", "invariant %q already declared at %s", name, posString(prev))
			} else {
				l.invs[name] = b.LabelRanges[0]
			}
		}
		if !structural {
			define(pendingBlock{b, c})
		}
	}
	// What the current file declared, to forget it if the file turns out
	// to have syntax errors (see parseStream).
	curFile, dsMark := -1, 0
	var fileBlocks []declRef
	parseStream(srcs, segMin, func(file int, pf parsedFile, skip int, whole bool) {
		if file != curFile {
			curFile, dsMark, fileBlocks = file, len(l.ds), nil
		}
		if whole && pf.syntax {
			l.forget(fileBlocks)
			l.ds = l.ds[:dsMark]
		}
		l.ds.addHCL(pf.diags)
		structural = structural || pf.diags.HasErrors()
		for _, b := range pf.blocks[min(skip, len(pf.blocks)):] {
			declare(b)
			fileBlocks = append(fileBlocks, refOf(b))
		}
	})
	if structural {
		return nil, l.ds.err()
	}
	saved := l.ds
	l.ds = defs
	for _, pb := range topAllows {
		l.topAllow(pb)
	}
	defs = l.ds
	l.ds = append(saved, defs...)
	// Rules in the documented order: compartments' allow blocks, roles',
	// then top-level ones (channel rules follow, from check).
	rank := func(r *Rule) int {
		switch {
		case l.topRules[r]:
			return 2
		case l.declared[r.Subject].kind == EntityRole:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(l.p.Rules, func(a, b *Rule) int { return rank(a) - rank(b) })
	// Invariants in declaration order.
	slices.SortStableFunc(l.p.Invariants, func(a, b *Invariant) int { return rangeCmp(a.Range, b.Range, l.p.Files) })

	l.check()
	if len(l.ds) > 0 {
		return nil, l.ds.err()
	}
	return l.p, nil
}

// declRef identifies a declared block without keeping its syntax tree.
type declRef struct {
	typ, name  string
	def, label hcl.Range
}

func refOf(b *hcl.Block) declRef {
	d := declRef{typ: b.Type, def: b.DefRange}
	if len(b.Labels) > 0 {
		d.name, d.label = b.Labels[0], b.LabelRanges[0]
	}
	return d
}

// forget undoes the declarations of blocks (see buildSegmented).
func (l *loader) forget(blocks []declRef) {
	for _, b := range blocks {
		if d, ok := l.declared[b.name]; ok && b.name != "" && d.rng == b.def {
			delete(l.declared, b.name)
		}
		if r, ok := l.labels[Label(b.name)]; ok && b.typ == "label" && r == b.def {
			delete(l.labels, Label(b.name))
		}
		if r, ok := l.invs[b.name]; ok && b.name != "" && r == b.label {
			delete(l.invs, b.name)
		}
		if b.typ == "policy" && l.policyAt != nil && *l.policyAt == b.def {
			l.policyAt = nil
		}
		if b.typ == "privacy" && l.privacyAt != nil && *l.privacyAt == b.def {
			l.privacyAt = nil
			l.p.Privacy = nil
		}
	}
}

func rangeCmp(a, b hcl.Range, files []string) int {
	if a.Filename != b.Filename {
		return slices.Index(files, a.Filename) - slices.Index(files, b.Filename)
	}
	return a.Start.Byte - b.Start.Byte
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validInvariantName(s string) bool {
	return validName(strings.ReplaceAll(s, "-", "_"))
}

func validLabelName(s string) bool {
	return validName(strings.ReplaceAll(s, "-", "_"))
}

func (l *loader) declare(b *hcl.Block, k EntityKind) {
	name, rng := b.Labels[0], b.LabelRanges[0]
	if !validName(name) {
		l.ds.add(rng, "names are lower-case letters, digits and \"_\", starting with a letter (at most 64)", "invalid %s name %s", k, quote(name))
		return
	}
	if prev, dup := l.declared[name]; dup {
		l.ds.add(rng, "compartments, roles, resources and channels share one namespace; rename one of them",
			"%s %q already declared as a %s at %s", k, name, prev.kind, posString(prev.rng))
		return
	}
	l.declared[name] = declared{k, b.DefRange}
}

func (l *loader) declareLabel(b *hcl.Block, c *hcl.BodyContent) {
	name, rng := b.Labels[0], b.LabelRanges[0]
	switch {
	case !validLabelName(name):
		l.ds.add(rng, "label names are lower-case letters, digits, \"_\" and \"-\", starting with a letter", "invalid label name %s", quote(name))
		return
	case slices.Contains(BuiltinLabels(), Label(name)):
		l.ds.add(rng, "built-in labels need no declaration; remove this block", "label %q is built in", name)
		return
	}
	if prev, dup := l.labels[Label(name)]; dup {
		l.ds.add(rng, "remove one of them", "label %q already declared at %s", name, posString(prev))
		return
	}
	l.labels[Label(name)] = b.DefRange
	d := &LabelDef{Name: Label(name), Range: b.DefRange}
	d.Description, _ = l.optString(c.Attributes["description"])
	l.p.Labels = append(l.p.Labels, d)
}

func (l *loader) policyBlock(b *hcl.Block, c *hcl.BodyContent) {
	if l.policyAt != nil {
		l.ds.add(b.DefRange, "merge them into one", "second policy block (the first is at %s)", posString(*l.policyAt))
		return
	}
	l.policyAt = &b.DefRange
	l.p.Name, _ = l.optString(c.Attributes["name"])
	l.p.Description, _ = l.optString(c.Attributes["description"])
}

// privacyBlock decodes the privacy block with package privacy (the
// agent's privacy filter configuration); a policy has at most one.
func (l *loader) privacyBlock(b *hcl.Block) {
	if l.privacyAt != nil {
		l.ds.add(b.DefRange, "merge them into one", "second privacy block (the first is at %s)", posString(*l.privacyAt))
		return
	}
	l.privacyAt = &b.DefRange
	cfg, hd := privacy.DecodeHCL(b.Body)
	l.ds.addHCL(hd)
	if !hd.HasErrors() {
		l.p.Privacy = &cfg
		l.p.PrivacyRange = b.DefRange
	}
}

// ok reports whether the block's entity was declared without error.
func (l *loader) ok(b *hcl.Block, k EntityKind) bool {
	d, found := l.declared[b.Labels[0]]
	return found && d.kind == k && d.rng == b.DefRange
}

func (l *loader) compartment(pb pendingBlock) {
	b, c := pb.block, pb.content
	if !l.ok(b, EntityCompartment) {
		return
	}
	comp := &Compartment{Name: b.Labels[0], Range: b.DefRange}
	a := c.Attributes
	comp.Description, _ = l.optString(a["description"])
	if s, ok := l.optString(a["tier"]); ok {
		t, err := ParseTier(s)
		if err != nil {
			l.ds.add(a["tier"].Expr.Range(), suggest(s, names(Tiers()), "tiers are "+strings.Join(names(Tiers()), ", ")), "unknown tier %s", quote(s))
		}
		comp.Tier = t
	}
	for _, e := range l.optStrings(a["executables"]) {
		if _, ge := parseGlob(e.name, true); ge != nil {
			l.ds.add(e.rng, ge.hint, "executable: %s", ge.msg)
			continue
		}
		comp.Executables = append(comp.Executables, e.name)
		l.exeRanges[comp] = append(l.exeRanges[comp], e.rng)
	}
	if s, ok := l.optString(a["user"]); ok {
		l.checkUnixName(s, a["user"].Expr.Range(), "user")
		comp.User = s
	}
	if s, ok := l.optString(a["group"]); ok {
		l.checkUnixName(s, a["group"].Expr.Range(), "group")
		comp.Group = s
	}
	for _, g := range l.optStrings(a["groups"]) {
		l.checkUnixName(g.name, g.rng, "group")
		comp.Groups = append(comp.Groups, g.name)
	}
	for _, s := range l.optStrings(a["capabilities"]) {
		cp, err := ParseCapability(s.name)
		if err != nil {
			l.ds.add(s.rng, suggest(strings.TrimPrefix(strings.ToUpper(s.name), "CAP_"), capabilityNames[:], "see capabilities(7) for the names"), "unknown capability %s", quote(s.name))
			continue
		}
		if slices.Contains(comp.Capabilities, cp) {
			l.ds.add(s.rng, "remove the duplicate", "capability %s listed twice", cp)
			continue
		}
		comp.Capabilities = append(comp.Capabilities, cp)
	}
	for _, s := range l.optStrings(a["syscalls"]) {
		if !validSyscall(s.name) {
			hint := "use a systemd group such as \"@system-service\" or a syscall name"
			if strings.HasPrefix(s.name, "@") {
				hint = suggest(s.name, syscallGroups[:], hint)
			}
			l.ds.add(s.rng, hint, "unknown syscall or syscall group %s", quote(s.name))
			continue
		}
		comp.Syscalls = append(comp.Syscalls, s.name)
	}
	comp.IsolateInstances, _ = l.optBool(a["isolate_instances"])
	if u, ok := l.optString(a["unit"]); ok {
		if !unitName.MatchString(u) {
			l.ds.add(a["unit"].Expr.Range(), "a unit name such as \"ic-replica.service\"", "invalid systemd unit name %s", quote(u))
		} else {
			comp.Unit = u
		}
	}
	for _, blk := range c.Blocks {
		switch blk.Type {
		case "limits":
			if comp.Limits != nil {
				l.ds.add(blk.DefRange, "merge them into one", "second limits block in compartment %q", comp.Name)
				continue
			}
			comp.Limits = l.limits(blk)
		case "allow":
			if r := l.allow(blk, ref{comp.Name, b.LabelRanges[0]}); r != nil {
				comp.Rules = append(comp.Rules, r)
			}
		}
	}
	l.p.Compartments = append(l.p.Compartments, comp)
}

func (l *loader) checkUnixName(s string, rng hcl.Range, what string) {
	valid := s != "" && len(s) <= 32
	for i := 0; i < len(s) && valid; i++ {
		c := s[i]
		valid = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-')
	}
	if !valid {
		l.ds.add(rng, "Unix names are lower-case letters, digits, \"_\" and \"-\", starting with a letter or \"_\" (at most 32)", "invalid %s name %s", what, quote(s))
	}
}

func (l *loader) limits(blk *hcl.Block) map[LimitName]uint64 {
	m := make(map[LimitName]uint64)
	c, hd := blk.Body.Content(limitsSchema)
	l.ds.addHCL(hd)
	if c == nil {
		return m
	}
	for _, n := range LimitNames() {
		attr := c.Attributes[string(n)]
		if attr == nil {
			continue
		}
		v, ok := l.limitValue(attr, n.takesSize())
		if !ok {
			continue
		}
		if n == LimitCPU && v == 0 {
			l.ds.add(attr.Expr.Range(), "cpu is a percentage of one CPU, e.g. 50 or 200", "cpu limit must be positive")
			continue
		}
		m[n] = v
	}
	return m
}

// limitValue decodes a non-negative integer, or for sizes a string with a
// K, M, G or T suffix (powers of 1024).
func (l *loader) limitValue(attr *hcl.Attribute, size bool) (uint64, bool) {
	v, hd := attr.Expr.Value(nil)
	rng := attr.Expr.Range()
	l.ds.addHCL(hd)
	if hd.HasErrors() {
		return 0, false
	}
	hint := "give a non-negative whole number"
	if size {
		hint = "give a number of bytes or a string such as \"512M\" (suffixes K, M, G, T are powers of 1024)"
	}
	if !v.IsKnown() || v.IsNull() {
		l.ds.add(rng, hint, "%s: expected a number", attr.Name)
		return 0, false
	}
	switch {
	case v.Type() == cty.Number:
		n, ok := wholeNumber(v.AsBigFloat())
		if !ok {
			l.ds.add(rng, hint, "%s: expected a non-negative whole number", attr.Name)
		}
		return n, ok
	case v.Type() == cty.String && size:
		s := v.AsString()
		mult := uint64(1)
		if i := len(s) - 1; i > 0 {
			switch s[i] {
			case 'K':
				mult = 1 << 10
			case 'M':
				mult = 1 << 20
			case 'G':
				mult = 1 << 30
			case 'T':
				mult = 1 << 40
			}
			if mult > 1 {
				s = s[:i]
			}
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > (1<<64-1)/mult {
			l.ds.add(rng, hint, "%s: invalid size %s", attr.Name, quote(v.AsString()))
			return 0, false
		}
		return n * mult, true
	}
	l.ds.add(rng, hint, "%s: expected a number, found %s", attr.Name, v.Type().FriendlyName())
	return 0, false
}

func wholeNumber(f *big.Float) (uint64, bool) {
	if f == nil || f.IsInf() || f.Sign() < 0 || !f.IsInt() {
		return 0, false
	}
	n, acc := f.Uint64()
	return n, acc == big.Exact
}

// allow decodes an allow block of subject.
func (l *loader) allow(blk *hcl.Block, subject ref) *Rule {
	c, hd := blk.Body.Content(allowSchema)
	l.ds.addHCL(hd)
	if c == nil {
		return nil
	}
	r := &Rule{Subject: subject.name, Origin: OriginAllow, Range: blk.DefRange}
	verbs := l.optStrings(c.Attributes["verbs"])
	for _, v := range verbs {
		if vb, ok := l.verb(v); ok {
			r.Verbs = r.Verbs.Add(vb)
		}
	}
	if attr := c.Attributes["verbs"]; emptyList(attr) {
		l.ds.add(attr.Expr.Range(), "list at least one verb", "allow without verbs")
	}
	objs := l.optStrings(c.Attributes["on"])
	if attr := c.Attributes["on"]; emptyList(attr) {
		l.ds.add(attr.Expr.Range(), "list at least one resource or compartment", "allow without objects")
	}
	for _, o := range objs {
		r.Objects = append(r.Objects, o.name)
	}
	l.ruleObjs[r] = objs
	l.ruleVerbs[r] = verbs
	l.ruleSubject[r] = subject
	l.p.Rules = append(l.p.Rules, r)
	return r
}

func (l *loader) verb(v ref) (Verb, bool) {
	vb, err := ParseVerb(v.name)
	if err != nil {
		l.ds.add(v.rng, suggest(v.name, names(Verbs()), "verbs are "+strings.Join(names(Verbs()), ", ")), "unknown verb %s", quote(v.name))
		return 0, false
	}
	return vb, true
}

func (l *loader) topAllow(pb pendingBlock) {
	b := pb.block
	// The content was decoded with allowSchema already; decode again
	// through allow for uniform handling (Content is side-effect free).
	subj := ref{b.Labels[0], b.LabelRanges[0]}
	r := l.allow(b, subj)
	if r == nil {
		return
	}
	if l.topRules == nil {
		l.topRules = make(map[*Rule]bool)
	}
	l.topRules[r] = true
	switch d, ok := l.declared[subj.name]; {
	case !ok:
		l.ds.add(subj.rng, suggest(subj.name, l.namesOf(Subjects), "declare it with a compartment or role block"), "allow for unknown subject %s", quote(subj.name))
	case d.kind == EntityCompartment:
		for _, c := range l.p.Compartments {
			if c.Name == subj.name {
				c.Rules = append(c.Rules, r)
			}
		}
	case d.kind == EntityRole:
		for _, ro := range l.p.Roles {
			if ro.Name == subj.name {
				ro.Rules = append(ro.Rules, r)
			}
		}
	default:
		l.ds.add(subj.rng, "the subject of an allow block is a compartment or a role", "allow for %s %q, which is not a subject", d.kind, subj.name)
	}
}

func (l *loader) role(pb pendingBlock) {
	b, c := pb.block, pb.content
	if !l.ok(b, EntityRole) {
		return
	}
	ro := &Role{Name: b.Labels[0], Range: b.DefRange}
	a := c.Attributes
	ro.Description, _ = l.optString(a["description"])
	for _, s := range l.optStrings(a["accounts"]) {
		l.checkUnixName(s.name, s.rng, "account")
		ro.Accounts = append(ro.Accounts, s.name)
	}
	enter := l.optStrings(a["enter"])
	for _, e := range enter {
		ro.Enter = append(ro.Enter, e.name)
	}
	l.enterRefs[ro] = enter
	for _, blk := range c.Blocks {
		if r := l.allow(blk, ref{ro.Name, b.LabelRanges[0]}); r != nil {
			ro.Rules = append(ro.Rules, r)
		}
	}
	l.p.Roles = append(l.p.Roles, ro)
}

func (l *loader) resource(pb pendingBlock) {
	b, c := pb.block, pb.content
	if !l.ok(b, EntityResource) {
		return
	}
	r := &Resource{Name: b.Labels[0], Range: b.DefRange}
	a := c.Attributes
	r.Description, _ = l.optString(a["description"])
	if s, ok := l.optString(a["kind"]); ok {
		k, err := ParseKind(s)
		if err != nil || !k.IsResource() {
			var rk []string
			for _, k := range Kinds() {
				if k.IsResource() {
					rk = append(rk, k.String())
				}
			}
			hint := "resource kinds are " + strings.Join(rk, ", ")
			if k.IsChannel() {
				hint = "sockets you connect to are declared with a channel block; " + hint
			} else if s == "device" || s == "dev" {
				hint = "devices are \"char-device\" or \"block-device\""
			} else {
				hint = suggest(s, rk, hint)
			}
			l.ds.add(a["kind"].Expr.Range(), hint, "unknown resource kind %s", quote(s))
		} else {
			r.Kind = k
		}
	}
	paths := l.optStrings(a["paths"])
	if attr := a["paths"]; emptyList(attr) {
		l.ds.add(attr.Expr.Range(), "list at least one absolute path or glob", "resource %q has no paths", r.Name)
	}
	for _, p := range paths {
		if _, ge := parseGlob(p.name, false); ge != nil {
			l.ds.add(p.rng, ge.hint, "%s", ge.msg)
			continue
		}
		if slices.Contains(r.Paths, p.name) {
			l.ds.add(p.rng, "remove the duplicate", "path %s listed twice", quote(p.name))
			continue
		}
		r.Paths = append(r.Paths, p.name)
		r.PathRanges = append(r.PathRanges, p.rng)
	}
	lbls := l.optStrings(a["labels"])
	for _, lb := range lbls {
		if !slices.Contains(r.Labels, Label(lb.name)) {
			r.Labels = append(r.Labels, Label(lb.name))
		}
	}
	l.labelRefs[r] = lbls
	if s, ok := l.optString(a["owner"]); ok {
		r.Owner = s
		l.ownerRefs[r] = ref{s, a["owner"].Expr.Range()}
	}
	l.p.Resources = append(l.p.Resources, r)
}

func (l *loader) channel(pb pendingBlock) {
	b, c := pb.block, pb.content
	if !l.ok(b, EntityChannel) {
		return
	}
	ch := &Channel{Name: b.Labels[0], Range: b.DefRange}
	a := c.Attributes
	l.chanAttrs[ch] = a
	ch.Description, _ = l.optString(a["description"])
	if s, ok := l.optString(a["protocol"]); ok {
		p, err := ParseProtocol(s)
		if err != nil {
			l.ds.add(a["protocol"].Expr.Range(), suggest(s, []string{"unix", "tcp", "udp", "vsock"}, "protocols are unix, tcp, udp and vsock"), "unknown protocol %s", quote(s))
		}
		ch.Protocol = p
	}
	if s, ok := l.optString(a["path"]); ok {
		if _, ge := parseGlob(s, true); ge != nil {
			l.ds.add(a["path"].Expr.Range(), ge.hint, "socket %s", ge.msg)
		} else {
			ch.Path = s
		}
	}
	if attr := a["ports"]; attr != nil {
		ch.Ports = l.ports(attr)
	}
	if s, ok := l.optString(a["server"]); ok {
		ch.Server = s
		l.serverRefs[ch] = ref{s, a["server"].Expr.Range()}
	}
	clients := l.optStrings(a["clients"])
	for _, cl := range clients {
		ch.Clients = append(ch.Clients, cl.name)
	}
	l.clientRefs[ch] = clients
	for _, r := range l.optStrings(a["remote"]) {
		if !validRemote(r.name) {
			l.ds.add(r.rng, "give \"any\", an IP address, a CIDR prefix such as \"2001:db8::/32\", or a host name", "invalid remote peer %s", quote(r.name))
			continue
		}
		ch.Remote = append(ch.Remote, r.name)
	}
	// Shape checks by protocol.
	rng := b.DefRange
	switch ch.Protocol {
	case ProtoUnix:
		if attr := a["ports"]; attr != nil {
			l.ds.add(attr.NameRange, "ports belong to tcp and udp channels; remove them", "unix channel %q has ports", ch.Name)
		}
		if attr := a["remote"]; attr != nil {
			l.ds.add(attr.NameRange, "unix sockets are local; remove remote", "unix channel %q has remote peers", ch.Name)
		}
		if a["server"] == nil {
			l.ds.add(rng, "add server = \"<compartment>\": the compartment that binds the socket", "unix channel %q has no server", ch.Name)
		}
	case ProtoVsock:
		if attr := a["path"]; attr != nil {
			l.ds.add(attr.NameRange, "path belongs to unix channels; remove it", "vsock channel %q has a path", ch.Name)
		}
		if attr := a["remote"]; attr != nil {
			l.ds.add(attr.NameRange, "vsock connects a VM and its host; name the local compartments in server and clients", "vsock channel %q has remote peers", ch.Name)
		}
		if a["ports"] == nil {
			l.ds.add(rng, "add ports = [19090] with the vsock port", "vsock channel %q has no ports", ch.Name)
		}
		if a["server"] == nil {
			l.ds.add(rng, "add server = \"<compartment>\"", "vsock channel %q has no server", ch.Name)
		}
	case ProtoTCP, ProtoUDP:
		if attr := a["path"]; attr != nil {
			l.ds.add(attr.NameRange, "path belongs to unix channels; remove it", "%s channel %q has a path", ch.Protocol, ch.Name)
		}
		if a["ports"] == nil {
			l.ds.add(rng, "add ports = [443] (numbers, or strings such as \"4100-4199\")", "%s channel %q has no ports", ch.Protocol, ch.Name)
		}
		if a["server"] == nil && len(clients) == 0 {
			l.ds.add(rng, "a served channel names its server; an outbound channel names its clients and remote destinations", "%s channel %q has neither server nor clients", ch.Protocol, ch.Name)
		}
		if a["server"] == nil && a["remote"] == nil {
			l.ds.add(rng, "an outbound channel (no server) lists its destinations in remote, e.g. remote = [\"any\"]", "outbound channel %q has no remote destinations", ch.Name)
		}
	}
	l.p.Channels = append(l.p.Channels, ch)
}

func validRemote(s string) bool {
	if s == "any" {
		return true
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	h := strings.TrimPrefix(s, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, lab := range strings.Split(h, ".") {
		if lab == "" || len(lab) > 63 || lab[0] == '-' || lab[len(lab)-1] == '-' {
			return false
		}
		for i := 0; i < len(lab); i++ {
			c := lab[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ports decodes a list of port numbers and "first-last" strings.
func (l *loader) ports(attr *hcl.Attribute) []PortRange {
	const hint = "ports are numbers from 1 to 65535, or strings \"first-last\""
	elems := l.elements(attr)
	var out []PortRange
	for _, e := range elems {
		v, hd := e.Value(nil)
		l.ds.addHCL(hd)
		if hd.HasErrors() {
			continue
		}
		rng := e.Range()
		if !v.IsKnown() || v.IsNull() {
			l.ds.add(rng, hint, "invalid port")
			continue
		}
		var pr PortRange
		switch v.Type() {
		case cty.Number:
			n, ok := wholeNumber(v.AsBigFloat())
			if !ok || n < 1 || n > 65535 {
				l.ds.add(rng, hint, "port %s out of range", v.AsBigFloat().Text('g', 10))
				continue
			}
			pr = PortRange{uint16(n), uint16(n)}
		case cty.String:
			s := v.AsString()
			lo, hi, found := strings.Cut(s, "-")
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if !found || err1 != nil || err2 != nil || a < 1 || b < a {
				l.ds.add(rng, hint, "invalid port range %s", quote(s))
				continue
			}
			pr = PortRange{uint16(a), uint16(b)}
		default:
			l.ds.add(rng, hint, "invalid port: found %s", v.Type().FriendlyName())
			continue
		}
		out = append(out, pr)
	}
	if len(out) == 0 && len(elems) == 0 {
		l.ds.add(attr.Expr.Range(), hint, "empty ports list")
	}
	return out
}

func (l *loader) spawn(pb pendingBlock) {
	b, c := pb.block, pb.content
	s := &Spawn{Range: b.DefRange}
	var refs []ref
	if f, ok := l.optString(c.Attributes["from"]); ok {
		s.From = f
		refs = append(refs, ref{f, c.Attributes["from"].Expr.Range()})
	} else {
		return
	}
	to := l.optStrings(c.Attributes["to"])
	if attr := c.Attributes["to"]; emptyList(attr) {
		l.ds.add(attr.Expr.Range(), "list the compartments it may start", "spawn without targets")
	}
	for _, t := range to {
		s.To = append(s.To, t.name)
	}
	l.spawnRefs[s] = append(refs, to...)
	l.p.Spawns = append(l.p.Spawns, s)
}

func (l *loader) invariant(pb pendingBlock) {
	b, c := pb.block, pb.content
	inv := &Invariant{Name: b.Labels[0], Range: b.DefRange}
	a := c.Attributes
	inv.Description, _ = l.optString(a["description"])
	switch b.Type {
	case "deny_access":
		inv.Form = FormDenyAccess
		inv.Subjects = l.selector(a["subjects"], Subjects)
		inv.Objects = l.selector(a["objects"], Objects)
		vs := l.optStrings(a["verbs"])
		for _, v := range vs {
			if vb, ok := l.verb(v); ok {
				inv.Verbs = inv.Verbs.Add(vb)
			}
		}
		if attr := a["verbs"]; emptyList(attr) {
			l.ds.add(attr.Expr.Range(), "list the verbs to deny", "invariant %q denies no verbs", inv.Name)
		}
		l.verbRefs[inv] = vs
	case "no_flow":
		inv.Form = FormNoFlow
		inv.From = l.selector(a["from"], AllEntities)
		inv.To = l.selector(a["to"], AllEntities)
		if a["except_through"] != nil {
			inv.Through = l.selector(a["except_through"], EntityKinds(EntityCompartment))
		}
	case "deny_spawn":
		inv.Form = FormDenySpawn
		inv.From = l.selector(a["from"], Subjects)
		inv.To = l.selector(a["to"], EntityKinds(EntityCompartment))
		inv.Transitive, _ = l.optBool(a["transitive"])
	case "deny_capability":
		inv.Form = FormDenyCapability
		inv.Subjects = l.selector(a["subjects"], EntityKinds(EntityCompartment))
		for _, s := range l.optStrings(a["capabilities"]) {
			cp, err := ParseCapability(s.name)
			if err != nil {
				l.ds.add(s.rng, suggest(strings.TrimPrefix(strings.ToUpper(s.name), "CAP_"), capabilityNames[:], "see capabilities(7) for the names"), "unknown capability %s", quote(s.name))
				continue
			}
			inv.Capabilities = append(inv.Capabilities, cp)
		}
	}
	if _, dup := l.invs[inv.Name]; dup && l.invs[inv.Name] == b.LabelRanges[0] {
		l.p.Invariants = append(l.p.Invariants, inv)
	}
}

var termFuncs = map[string]TermFunc{
	"all": TermAll, "all_except": TermAllExcept, "compartments": TermCompartments,
	"roles": TermRoles, "resources": TermResources, "channels": TermChannels,
	"tier": TermTier, "labelled": TermLabelled, "kind": TermKind,
	"network": TermNetwork, "executables": TermExecutables,
}

// selector decodes a selector expression: one term or a list of terms.
func (l *loader) selector(attr *hcl.Attribute, domain EntityKinds) Selector {
	s := Selector{Domain: domain}
	if attr == nil {
		return s
	}
	s.Range = attr.Expr.Range()
	exprs := []hcl.Expression{attr.Expr}
	if t, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
		exprs = toExprs(t.Exprs)
		if len(exprs) == 0 {
			l.ds.add(s.Range, "name at least one entity or use a function such as labelled(\"secret\")", "%s is empty", attr.Name)
		}
	}
	for _, e := range exprs {
		if t, ok := l.term(e); ok {
			s.Terms = append(s.Terms, t)
		}
	}
	return s
}

func (l *loader) term(e hcl.Expression) (Term, bool) {
	rng := e.Range()
	fc, ok := e.(*hclsyntax.FunctionCallExpr)
	if !ok {
		if _, isVar := e.(*hclsyntax.ScopeTraversalExpr); isVar {
			l.ds.add(rng, "names are quoted strings, e.g. \"replica\"; functions are called with parentheses, e.g. all()", "bare identifier in selector")
			return Term{}, false
		}
		s, ok := l.stringValue(e, "selector term")
		if !ok {
			return Term{}, false
		}
		return Term{Func: TermName, Args: []string{s}, Range: rng}, true
	}
	f, known := termFuncs[fc.Name]
	if !known {
		fnames := make([]string, 0, len(termFuncs))
		for n := range termFuncs {
			fnames = append(fnames, n)
		}
		slices.Sort(fnames)
		l.ds.add(fc.NameRange, suggest(fc.Name, fnames, "selector functions are "+strings.Join(fnames, ", ")), "unknown selector function %s", fc.Name)
		return Term{}, false
	}
	if fc.ExpandFinal {
		l.ds.add(rng, "list arguments directly", "argument expansion (...) is not supported")
		return Term{}, false
	}
	t := Term{Func: f, Range: rng}
	for _, arg := range fc.Args {
		if tc, ok := arg.(*hclsyntax.TupleConsExpr); ok {
			for _, x := range tc.Exprs {
				if s, ok := l.stringValue(x, fc.Name+" argument"); ok {
					t.Args = append(t.Args, s)
				}
			}
			continue
		}
		if s, ok := l.stringValue(arg, fc.Name+" argument"); ok {
			t.Args = append(t.Args, s)
		}
	}
	switch f {
	case TermAll, TermCompartments, TermRoles, TermResources, TermChannels, TermNetwork, TermExecutables:
		if len(fc.Args) > 0 {
			l.ds.add(rng, "call it without arguments: "+fc.Name+"()", "%s takes no arguments", fc.Name)
			return Term{}, false
		}
	default:
		if len(t.Args) == 0 {
			l.ds.add(rng, fmt.Sprintf("e.g. %s", map[TermFunc]string{TermAllExcept: `all_except(["crypto_vault"])`, TermTier: `tier("untrusted")`, TermLabelled: `labelled("secret")`, TermKind: `kind("block-device")`}[f]), "%s needs at least one argument", fc.Name)
			return Term{}, false
		}
	}
	return t, true
}

// stringValue evaluates a literal string expression.
func (l *loader) stringValue(e hcl.Expression, what string) (string, bool) {
	// A plain quoted string: its one literal part (what Value would
	// return, without evaluating a template).
	if t, ok := e.(*hclsyntax.TemplateExpr); ok && len(t.Parts) == 1 {
		if lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && lit.Val.IsKnown() && !lit.Val.IsNull() {
			return lit.Val.AsString(), true
		}
	}
	v, hd := e.Value(nil)
	l.ds.addHCL(hd)
	if hd.HasErrors() {
		return "", false
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		l.ds.add(e.Range(), "write a quoted string", "%s: expected a string, found %s", what, friendly(v))
		return "", false
	}
	return v.AsString(), true
}

func friendly(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}

// optString decodes an optional string attribute.
func (l *loader) optString(attr *hcl.Attribute) (string, bool) {
	if attr == nil {
		return "", false
	}
	return l.stringValue(attr.Expr, attr.Name)
}

func (l *loader) optBool(attr *hcl.Attribute) (bool, bool) {
	if attr == nil {
		return false, false
	}
	v, hd := attr.Expr.Value(nil)
	l.ds.addHCL(hd)
	if hd.HasErrors() {
		return false, false
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool {
		l.ds.add(attr.Expr.Range(), "write true or false", "%s: expected a bool, found %s", attr.Name, friendly(v))
		return false, false
	}
	return v.True(), true
}

// elements returns the element expressions of a list attribute, or the
// attribute's expression itself when it is not a literal list (it is then
// reported by the caller's evaluation).
func (l *loader) elements(attr *hcl.Attribute) []hcl.Expression {
	if t, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
		return toExprs(t.Exprs)
	}
	l.ds.add(attr.Expr.Range(), "write a list in brackets, e.g. [\"a\", \"b\"]", "%s: expected a list", attr.Name)
	return nil
}

// optStrings decodes an optional list of strings with each element's
// position.
func (l *loader) optStrings(attr *hcl.Attribute) []ref {
	if attr == nil {
		return nil
	}
	var out []ref
	for _, e := range l.elements(attr) {
		if s, ok := l.stringValue(e, attr.Name+" element"); ok {
			out = append(out, ref{s, e.Range()})
		}
	}
	return out
}

func (l *loader) namesOf(kinds EntityKinds) []string {
	var out []string
	for n, d := range l.declared {
		if kinds.Has(d.kind) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func names[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

func toExprs(es []hclsyntax.Expression) []hcl.Expression {
	out := make([]hcl.Expression, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// emptyList reports whether attr is present and a literal empty list.
func emptyList(attr *hcl.Attribute) bool {
	if attr == nil {
		return false
	}
	t, ok := attr.Expr.(*hclsyntax.TupleConsExpr)
	return ok && len(t.Exprs) == 0
}
