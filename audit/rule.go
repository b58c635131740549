package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
)

// RuleList is the filter list a rule belongs to (AUDIT_FILTER_*).
type RuleList uint32

// Filter lists.
const (
	ListUser      RuleList = 0 // user-space messages
	ListTask      RuleList = 1 // at fork/clone
	ListExit      RuleList = 4 // at syscall exit: syscall and watch rules
	ListExclude   RuleList = 5 // record types to drop
	ListFS        RuleList = 6 // filesystem records
	ListURingExit RuleList = 7 // io_uring operations

	filterPrepend = 0x10
)

var listNames = map[RuleList]string{ListUser: "user", ListTask: "task", ListExit: "exit",
	ListExclude: "exclude", ListFS: "filesystem", ListURingExit: "io_uring"}

// RuleAction is never or always (AUDIT_NEVER, AUDIT_ALWAYS).
type RuleAction uint32

// Rule actions.
const (
	ActionNever  RuleAction = 0
	ActionAlways RuleAction = 2
)

// Operator compares a rule field with its value.
type Operator uint32

// Operators (linux/audit.h).
const (
	OpEqual        Operator = 0x40000000
	OpNotEqual     Operator = 0x30000000
	OpLess         Operator = 0x10000000
	OpGreater      Operator = 0x20000000
	OpLessEqual    Operator = 0x50000000
	OpGreaterEqual Operator = 0x60000000
	OpBitMask      Operator = 0x08000000
	OpBitTest      Operator = 0x48000000
)

var opText = []struct {
	op Operator
	s  string
}{ // longest first, for parsing
	{OpNotEqual, "!="}, {OpLessEqual, "<="}, {OpGreaterEqual, ">="}, {OpBitTest, "&="},
	{OpEqual, "="}, {OpLess, "<"}, {OpGreater, ">"}, {OpBitMask, "&"},
}

// String returns the operator as auditctl writes it (=, !=, <, >=, &, …).
func (o Operator) String() string {
	for _, t := range opText {
		if t.op == o {
			return t.s
		}
	}
	return fmt.Sprintf("op(%#x)", uint32(o))
}

// Rule field numbers (AUDIT_* in linux/audit.h).
const (
	FieldPID          = 0
	FieldUID          = 1
	FieldEUID         = 2
	FieldSUID         = 3
	FieldFSUID        = 4
	FieldGID          = 5
	FieldEGID         = 6
	FieldSGID         = 7
	FieldFSGID        = 8
	FieldLoginUID     = 9
	FieldPers         = 10
	FieldArch         = 11
	FieldMsgType      = 12
	FieldSubjUser     = 13
	FieldSubjRole     = 14
	FieldSubjType     = 15
	FieldSubjSen      = 16
	FieldSubjClr      = 17
	FieldPPID         = 18
	FieldObjUser      = 19
	FieldObjRole      = 20
	FieldObjType      = 21
	FieldObjLevLow    = 22
	FieldObjLevHigh   = 23
	FieldLoginUIDSet  = 24
	FieldSessionID    = 25
	FieldFSType       = 26
	FieldDevMajor     = 100
	FieldDevMinor     = 101
	FieldInode        = 102
	FieldExit         = 103
	FieldSuccess      = 104
	FieldWatch        = 105
	FieldPerm         = 106
	FieldDir          = 107
	FieldFileType     = 108
	FieldObjUID       = 109
	FieldObjGID       = 110
	FieldFieldCompare = 111
	FieldExe          = 112
	FieldSaddrFam     = 113
	FieldArg0         = 200
	FieldFilterKey    = 210
)

type fieldKind uint8

const (
	kindNum fieldKind = iota
	kindUID
	kindGID
	kindString
	kindArch
	kindExit
	kindPerm
	kindFileType
	kindMsgType
	kindFSType
)

var fieldDefs = []struct {
	name string
	num  uint32
	kind fieldKind
}{
	{"pid", FieldPID, kindNum}, {"uid", FieldUID, kindUID}, {"euid", FieldEUID, kindUID},
	{"suid", FieldSUID, kindUID}, {"fsuid", FieldFSUID, kindUID}, {"gid", FieldGID, kindGID},
	{"egid", FieldEGID, kindGID}, {"sgid", FieldSGID, kindGID}, {"fsgid", FieldFSGID, kindGID},
	{"auid", FieldLoginUID, kindUID}, {"loginuid", FieldLoginUID, kindUID},
	{"pers", FieldPers, kindNum}, {"arch", FieldArch, kindArch}, {"msgtype", FieldMsgType, kindMsgType},
	{"subj_user", FieldSubjUser, kindString}, {"subj_role", FieldSubjRole, kindString},
	{"subj_type", FieldSubjType, kindString}, {"subj_sen", FieldSubjSen, kindString},
	{"subj_clr", FieldSubjClr, kindString}, {"ppid", FieldPPID, kindNum},
	{"obj_user", FieldObjUser, kindString}, {"obj_role", FieldObjRole, kindString},
	{"obj_type", FieldObjType, kindString}, {"obj_lev_low", FieldObjLevLow, kindString},
	{"obj_lev_high", FieldObjLevHigh, kindString}, {"sessionid", FieldSessionID, kindNum},
	{"fstype", FieldFSType, kindFSType}, {"devmajor", FieldDevMajor, kindNum},
	{"devminor", FieldDevMinor, kindNum}, {"inode", FieldInode, kindNum},
	{"exit", FieldExit, kindExit}, {"success", FieldSuccess, kindNum},
	{"path", FieldWatch, kindString}, {"perm", FieldPerm, kindPerm}, {"dir", FieldDir, kindString},
	{"filetype", FieldFileType, kindFileType}, {"obj_uid", FieldObjUID, kindUID},
	{"obj_gid", FieldObjGID, kindGID}, {"exe", FieldExe, kindString},
	{"saddr_fam", FieldSaddrFam, kindNum},
	{"a0", FieldArg0, kindNum}, {"a1", FieldArg0 + 1, kindNum}, {"a2", FieldArg0 + 2, kindNum},
	{"a3", FieldArg0 + 3, kindNum}, {"key", FieldFilterKey, kindString},
}

func fieldByName(name string) (uint32, fieldKind, bool) {
	for _, d := range fieldDefs {
		if d.name == name {
			return d.num, d.kind, true
		}
	}
	return 0, 0, false
}

func fieldByNum(n uint32) (string, fieldKind) {
	for _, d := range fieldDefs {
		if d.num == n {
			return d.name, d.kind
		}
	}
	return "field" + strconv.FormatUint(uint64(n), 10), kindNum
}

// RuleField is one condition of a rule: Field Op Value, or Field Op Str for
// the string fields (paths, keys, labels).
type RuleField struct {
	Field uint32
	Op    Operator
	Value uint32
	Str   string
}

// BitmaskWords is the size of a rule's syscall mask in 32-bit words.
const BitmaskWords = 64

// Rule is an audit rule: the kernel's struct audit_rule_data.
type Rule struct {
	List     RuleList
	Action   RuleAction
	Prepend  bool // -A: put the rule first in its list
	Syscalls [BitmaskWords]uint32
	Fields   []RuleField
}

// RuleOptions configures ParseRule.
type RuleOptions struct {
	// Machine is the architecture that b64/b32 and syscall names refer to
	// when the rule has no -F arch=; default the running machine.
	Machine Arch
	// Stat is used to tell a directory watch (-w /dir) from a file watch;
	// default os.Stat. Set it to a function returning an error to build
	// rules for paths that are not on this machine.
	Stat func(string) (os.FileInfo, error)
}

// NativeArch returns the audit architecture of the running machine.
func NativeArch() Arch {
	switch runtime.GOARCH {
	case "arm64":
		return ArchAArch64
	case "386":
		return ArchI386
	case "arm":
		return ArchARM
	case "ppc64":
		return ArchPPC64
	case "ppc64le":
		return ArchPPC64LE
	case "s390x":
		return ArchS390X
	case "riscv64":
		return ArchRISCV64
	}
	return ArchX86_64
}

func arch32(a Arch) Arch {
	switch a {
	case ArchX86_64:
		return ArchI386
	case ArchAArch64:
		return ArchARM
	}
	return a
}

// ParseRule parses one rule in auditctl syntax:
//
//	-a always,exit -F arch=b64 -S execve -k exec
//	-a exit,always -F arch=b64 -S openat -F path=/etc/shadow -F perm=r -k secret
//	-w /etc/shadow -p rwa -k secret
//	-A always,exit -F arch=b64 -S ptrace -C auid!=obj_uid
//
// -d and -W (delete forms) parse to the same rule. Control commands (-D,
// -b, -e, -f, -r) are not rules and are rejected.
func ParseRule(line string, opts RuleOptions) (*Rule, error) {
	if opts.Machine == 0 {
		opts.Machine = NativeArch()
	}
	if opts.Stat == nil {
		opts.Stat = os.Stat
	}
	args, err := splitArgs(line)
	if err != nil {
		return nil, err
	}
	var (
		r        Rule
		haveList bool
		watch    string
		perm     = ""
		havePerm bool
		keys     []string
		syscalls []string
		arch     = opts.Machine
	)
	next := func(i *int, opt string) (string, error) {
		*i++
		if *i >= len(args) {
			return "", fmt.Errorf("audit rule: %s needs an argument", opt)
		}
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-a", "-A", "-d":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			if haveList || watch != "" {
				return nil, errors.New("audit rule: more than one -a/-A/-d/-w")
			}
			if err := r.parseListAction(v); err != nil {
				return nil, err
			}
			r.Prepend = a == "-A"
			haveList = true
		case "-w", "-W":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			if haveList || watch != "" {
				return nil, errors.New("audit rule: more than one -a/-A/-d/-w")
			}
			if v == "" || v[0] != '/' {
				return nil, fmt.Errorf("audit rule: watch path %q is not absolute", v)
			}
			for len(v) > 1 && v[len(v)-1] == '/' {
				v = v[:len(v)-1] // as auditctl does
			}
			watch = v
		case "-p":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			perm, havePerm = v, true
		case "-k":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			keys = append(keys, v)
		case "-S":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			syscalls = append(syscalls, strings.Split(v, ",")...)
		case "-F":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			f, err := parseRuleField(v, &arch, opts.Machine)
			if err != nil {
				return nil, err
			}
			if f.Field == FieldFilterKey {
				keys = append(keys, f.Str)
				continue
			}
			r.Fields = append(r.Fields, f)
		case "-C":
			v, err := next(&i, a)
			if err != nil {
				return nil, err
			}
			f, err := parseCompare(v)
			if err != nil {
				return nil, err
			}
			r.Fields = append(r.Fields, f)
		default:
			return nil, fmt.Errorf("audit rule: unsupported option %q", a)
		}
	}
	switch {
	case watch != "":
		if len(syscalls) > 0 || len(r.Fields) > 0 {
			return nil, errors.New("audit rule: -w takes only -p and -k")
		}
		r.List, r.Action = ListExit, ActionAlways
		fieldNum := uint32(FieldWatch)
		if fi, err := opts.Stat(watch); err == nil && fi.IsDir() {
			fieldNum = FieldDir
		}
		r.Fields = append(r.Fields, RuleField{Field: fieldNum, Op: OpEqual, Str: watch})
		if !havePerm {
			perm = "rwxa"
		}
		p, err := parsePerm(perm)
		if err != nil {
			return nil, err
		}
		r.Fields = append(r.Fields, RuleField{Field: FieldPerm, Op: OpEqual, Value: p})
		syscalls = []string{"all"}
	case haveList:
		if havePerm {
			f := RuleField{Field: FieldPerm, Op: OpEqual}
			if f.Value, err = parsePerm(perm); err != nil {
				return nil, err
			}
			r.Fields = append(r.Fields, f)
		}
	default:
		return nil, errors.New("audit rule: no -a, -A, -d or -w")
	}
	if len(syscalls) == 0 && r.List != ListTask {
		// auditctl applies rules without -S to all syscalls, except on
		// the task list, whose mask stays empty
		syscalls = []string{"all"}
	}
	for _, s := range syscalls {
		if err := r.addSyscall(s, arch); err != nil {
			return nil, err
		}
	}
	if len(keys) > 0 {
		k := strings.Join(keys, "\x01")
		if len(k) > 256 {
			return nil, errors.New("audit rule: key longer than 256 bytes")
		}
		r.Fields = append(r.Fields, RuleField{Field: FieldFilterKey, Op: OpEqual, Str: k})
	}
	if len(r.Fields) > 64 {
		return nil, errors.New("audit rule: more than 64 fields")
	}
	return &r, nil
}

// ParseRules parses a rules file: one rule per line, '#' comments and
// blank lines ignored. Errors name the line.
func ParseRules(text string, opts RuleOptions) ([]*Rule, error) {
	var out []*Rule
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		r, err := ParseRule(line, opts)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (r *Rule) parseListAction(v string) error {
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		return fmt.Errorf("audit rule: %q is not list,action", v)
	}
	var haveL, haveA bool
	for _, w := range []string{a, b} {
		switch w {
		case "always":
			r.Action, haveA = ActionAlways, true
		case "never":
			r.Action, haveA = ActionNever, true
		default:
			found := false
			for l, n := range listNames {
				if n == w || (w == "filesystem" && l == ListFS) {
					r.List, haveL, found = l, true, true
				}
			}
			if w == "entry" {
				return errors.New("audit rule: the entry list is deprecated; use exit")
			}
			if !found {
				return fmt.Errorf("audit rule: unknown list or action %q", w)
			}
		}
	}
	if !haveL || !haveA {
		return fmt.Errorf("audit rule: %q needs one list and one action", v)
	}
	return nil
}

func (r *Rule) addSyscall(s string, arch Arch) error {
	if s == "all" {
		for i := range r.Syscalls {
			r.Syscalls[i] = 0xffffffff
		}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		var ok bool
		n, ok = SyscallNumber(arch, s)
		if !ok {
			return fmt.Errorf("audit rule: unknown syscall %q for %s", s, arch)
		}
	}
	if n < 0 || n >= BitmaskWords*32 {
		return fmt.Errorf("audit rule: syscall number %d out of range", n)
	}
	r.Syscalls[n/32] |= 1 << (n % 32)
	return nil
}

func splitOp(expr string) (string, Operator, string, bool) {
	best := -1
	var op Operator
	var opLen int
	for _, t := range opText {
		if i := strings.Index(expr, t.s); i > 0 && (best < 0 || i < best || (i == best && len(t.s) > opLen)) {
			best, op, opLen = i, t.op, len(t.s)
		}
	}
	if best < 0 {
		return "", 0, "", false
	}
	return expr[:best], op, expr[best+opLen:], true
}

func parseRuleField(expr string, arch *Arch, machine Arch) (RuleField, error) {
	name, op, val, ok := splitOp(expr)
	if !ok {
		return RuleField{}, fmt.Errorf("audit rule: -F %q has no operator", expr)
	}
	num, kind, ok := fieldByName(name)
	if !ok {
		return RuleField{}, fmt.Errorf("audit rule: unknown field %q", name)
	}
	f := RuleField{Field: num, Op: op}
	var err error
	switch kind {
	case kindString:
		if op != OpEqual && op != OpNotEqual {
			return f, fmt.Errorf("audit rule: %s takes only = or !=", name)
		}
		f.Str = val
	case kindArch:
		if op != OpEqual && op != OpNotEqual {
			return f, errors.New("audit rule: arch takes only = or !=")
		}
		var a Arch
		switch val {
		case "b64":
			a = machine
			if a&Arch64Bit == 0 {
				return f, fmt.Errorf("audit rule: %s has no 64-bit syscalls", machine)
			}
		case "b32":
			a = arch32(machine)
		default:
			a, err = parseArchName(val)
		}
		f.Value = uint32(a)
		*arch = a
	case kindUID:
		f.Value, err = parseID(val, func(s string) (string, error) {
			u, err := user.Lookup(s)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		})
	case kindGID:
		f.Value, err = parseID(val, func(s string) (string, error) {
			g, err := user.LookupGroup(s)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		})
	case kindExit:
		f.Value, err = parseExit(val)
	case kindPerm:
		f.Value, err = parsePerm(val)
	case kindFileType:
		f.Value, err = parseFileType(val)
	case kindFSType:
		switch val {
		case "debugfs":
			f.Value = 0x64626720
		case "tracefs":
			f.Value = 0x74726163
		default:
			var n uint64
			n, err = strconv.ParseUint(val, 0, 32)
			f.Value = uint32(n)
		}
	case kindMsgType:
		t, ok := ParseRecordType(val)
		if !ok {
			err = fmt.Errorf("unknown record type %q", val)
		}
		f.Value = uint32(t)
	default:
		var n uint64
		n, err = strconv.ParseUint(val, 0, 32)
		if err != nil {
			var s int64
			if s, err = strconv.ParseInt(val, 0, 32); err == nil {
				n = uint64(uint32(int32(s)))
			}
		}
		f.Value = uint32(n)
	}
	if err != nil {
		return f, fmt.Errorf("audit rule: -F %s: %v", expr, err)
	}
	return f, nil
}

func parseArchName(s string) (Arch, error) {
	for _, a := range []Arch{ArchX86_64, ArchI386, ArchAArch64, ArchARM, ArchPPC64, ArchPPC64LE, ArchS390X, ArchRISCV64} {
		if a.String() == s {
			return a, nil
		}
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("unknown arch %q", s)
	}
	return Arch(n), nil
}

func parseID(s string, lookup func(string) (string, error)) (uint32, error) {
	switch s {
	case "unset", "-1":
		return Unset, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(id, 10, 32)
	return uint32(n), err
}

// errnos used in -F exit=-EXXX rules
var errnoNames = map[string]int{
	"EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7,
	"ENOEXEC": 8, "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
	"EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "EXDEV": 18, "ENODEV": 19, "ENOTDIR": 20,
	"EISDIR": 21, "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ETXTBSY": 26, "EFBIG": 27,
	"ENOSPC": 28, "ESPIPE": 29, "EROFS": 30, "EMLINK": 31, "EPIPE": 32, "ENAMETOOLONG": 36,
	"ENOSYS": 38, "ENOTEMPTY": 39, "ELOOP": 40, "EOPNOTSUPP": 95, "EADDRINUSE": 98,
	"ECONNREFUSED": 111, "EINPROGRESS": 115,
}

func parseExit(s string) (uint32, error) {
	neg := strings.HasPrefix(s, "-")
	name := strings.TrimPrefix(s, "-")
	if n, ok := errnoNames[name]; ok {
		if neg {
			n = -n
		}
		return uint32(int32(n)), nil
	}
	n, err := strconv.ParseInt(s, 0, 32)
	return uint32(int32(n)), err
}

func parsePerm(s string) (uint32, error) {
	var p uint32
	for _, c := range s {
		switch c {
		case 'x':
			p |= 1
		case 'w':
			p |= 2
		case 'r':
			p |= 4
		case 'a':
			p |= 8
		default:
			return 0, fmt.Errorf("audit rule: permission %q is not one of rwxa", s)
		}
	}
	if p == 0 {
		return 0, errors.New("audit rule: empty permission")
	}
	return p, nil
}

var fileTypes = map[string]uint32{"file": 0o100000, "dir": 0o40000, "socket": 0o140000,
	"link": 0o120000, "character": 0o20000, "block": 0o60000, "fifo": 0o10000}

func parseFileType(s string) (uint32, error) {
	if v, ok := fileTypes[s]; ok {
		return v, nil
	}
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return uint32(n), nil
	}
	return 0, fmt.Errorf("unknown file type %q", s)
}

// comparisons for -C (AUDIT_COMPARE_*), by field pair
var compares = []struct {
	a, b string
	n    uint32
}{
	{"uid", "obj_uid", 1}, {"gid", "obj_gid", 2}, {"euid", "obj_uid", 3}, {"egid", "obj_gid", 4},
	{"auid", "obj_uid", 5}, {"suid", "obj_uid", 6}, {"sgid", "obj_gid", 7}, {"fsuid", "obj_uid", 8},
	{"fsgid", "obj_gid", 9}, {"uid", "auid", 10}, {"uid", "euid", 11}, {"uid", "fsuid", 12},
	{"uid", "suid", 13}, {"auid", "fsuid", 14}, {"auid", "suid", 15}, {"auid", "euid", 16},
	{"euid", "suid", 17}, {"euid", "fsuid", 18}, {"suid", "fsuid", 19}, {"gid", "egid", 20},
	{"gid", "fsgid", 21}, {"gid", "sgid", 22}, {"egid", "fsgid", 23}, {"egid", "sgid", 24},
	{"sgid", "fsgid", 25},
}

func parseCompare(expr string) (RuleField, error) {
	a, op, b, ok := splitOp(expr)
	if !ok || (op != OpEqual && op != OpNotEqual) {
		return RuleField{}, fmt.Errorf("audit rule: -C %q: need field=field or field!=field", expr)
	}
	if a == "loginuid" {
		a = "auid"
	}
	if b == "loginuid" {
		b = "auid"
	}
	for _, c := range compares {
		if (c.a == a && c.b == b) || (c.a == b && c.b == a) {
			return RuleField{Field: FieldFieldCompare, Op: op, Value: c.n}, nil
		}
	}
	return RuleField{}, fmt.Errorf("audit rule: -C %q: fields cannot be compared", expr)
}

// splitArgs splits a command line at blanks, honouring '…' and "…".
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("audit rule: unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

func isStringField(n uint32) bool {
	_, k := fieldByNum(n)
	return k == kindString
}

// ruleDataSize is sizeof(struct audit_rule_data) without its buffer.
const ruleDataSize = 4*3 + 4*BitmaskWords + 4*64*3 + 4

// Marshal encodes the rule as the kernel's struct audit_rule_data (host
// byte order), the payload of AUDIT_ADD_RULE and AUDIT_DEL_RULE.
func (r *Rule) Marshal() ([]byte, error) {
	if len(r.Fields) > 64 {
		return nil, errors.New("audit rule: more than 64 fields")
	}
	var strs []byte
	for _, f := range r.Fields {
		if isStringField(f.Field) {
			strs = append(strs, f.Str...)
		}
	}
	b := make([]byte, ruleDataSize+len(strs))
	ne := binary.NativeEndian
	flags := uint32(r.List)
	if r.Prepend {
		flags |= filterPrepend
	}
	ne.PutUint32(b[0:], flags)
	ne.PutUint32(b[4:], uint32(r.Action))
	ne.PutUint32(b[8:], uint32(len(r.Fields)))
	for i, m := range r.Syscalls {
		ne.PutUint32(b[12+4*i:], m)
	}
	fields := 12 + 4*BitmaskWords
	values := fields + 4*64
	fflags := values + 4*64
	for i, f := range r.Fields {
		v := f.Value
		if isStringField(f.Field) {
			if len(f.Str) > 4096 {
				return nil, errors.New("audit rule: string field longer than PATH_MAX")
			}
			v = uint32(len(f.Str))
		}
		ne.PutUint32(b[fields+4*i:], f.Field)
		ne.PutUint32(b[values+4*i:], v)
		ne.PutUint32(b[fflags+4*i:], uint32(f.Op))
	}
	ne.PutUint32(b[fflags+4*64:], uint32(len(strs)))
	copy(b[ruleDataSize:], strs)
	return b, nil
}

// UnmarshalRule decodes a struct audit_rule_data, as the kernel returns it
// for AUDIT_LIST_RULES.
func UnmarshalRule(b []byte) (*Rule, error) {
	if len(b) < ruleDataSize {
		return nil, errors.New("audit rule: short audit_rule_data")
	}
	ne := binary.NativeEndian
	var r Rule
	flags := ne.Uint32(b[0:])
	r.List = RuleList(flags &^ filterPrepend)
	r.Prepend = flags&filterPrepend != 0
	r.Action = RuleAction(ne.Uint32(b[4:]))
	n := ne.Uint32(b[8:])
	if n > 64 {
		return nil, errors.New("audit rule: field count over 64")
	}
	for i := range r.Syscalls {
		r.Syscalls[i] = ne.Uint32(b[12+4*i:])
	}
	fields := 12 + 4*BitmaskWords
	values := fields + 4*64
	fflags := values + 4*64
	buflen := ne.Uint32(b[fflags+4*64:])
	buf := b[ruleDataSize:]
	if uint64(buflen) > uint64(len(buf)) {
		return nil, errors.New("audit rule: string buffer truncated")
	}
	buf = buf[:buflen]
	for i := range int(n) {
		f := RuleField{
			Field: ne.Uint32(b[fields+4*i:]),
			Value: ne.Uint32(b[values+4*i:]),
			Op:    Operator(ne.Uint32(b[fflags+4*i:])),
		}
		if isStringField(f.Field) {
			if uint64(f.Value) > uint64(len(buf)) {
				return nil, errors.New("audit rule: string field overruns the buffer")
			}
			f.Str, buf = string(buf[:f.Value]), buf[f.Value:]
			f.Value = 0
		}
		r.Fields = append(r.Fields, f)
	}
	return &r, nil
}

// Equal reports whether r and o are the same rule (as the kernel compares
// them: same list, action, mask and fields in order). A rule for all
// syscalls equals itself as the kernel lists it back (the kernel replaces
// the 16 syscall-class bits at the top of the mask).
func (r *Rule) Equal(o *Rule) bool {
	a, b := *r, *o
	a.Prepend, b.Prepend = false, false // the kernel clears it once the rule is in place
	for _, x := range []*Rule{&a, &b} {
		if x.allSyscalls() {
			for i := range x.Syscalls {
				x.Syscalls[i] = 0xffffffff
			}
		}
	}
	ma, err1 := a.Marshal()
	mb, err2 := b.Marshal()
	return err1 == nil && err2 == nil && string(ma) == string(mb)
}

// allSyscalls reports whether the mask covers every syscall number
// (0–2031; the top 16 bits select syscall classes).
func (r *Rule) allSyscalls() bool {
	for i, m := range r.Syscalls {
		want := uint32(0xffffffff)
		if i == BitmaskWords-1 {
			want = 0x0000ffff
		}
		if m&want != want {
			return false
		}
	}
	return true
}

// String formats the rule in auditctl syntax, the way auditctl -l lists
// it: watches as -w PATH -p PERM, syscall rules as -a LIST,ACTION with
// -F arch= first, -S names, other -F fields, then -F key=.
func (r *Rule) String() string {
	arch := NativeArch()
	for _, f := range r.Fields {
		if f.Field == FieldArch && f.Op == OpEqual {
			arch = Arch(f.Value)
		}
	}
	all := r.allSyscalls()
	var sb strings.Builder
	// a pure watch: -w path -p perm [-k key]
	if r.List == ListExit && r.Action == ActionAlways && all && !r.Prepend {
		var path, key string
		var perm uint32
		ok := true
		for _, f := range r.Fields {
			switch {
			case (f.Field == FieldWatch || f.Field == FieldDir) && f.Op == OpEqual && path == "":
				path = f.Str
			case f.Field == FieldPerm && f.Op == OpEqual:
				perm = f.Value
			case f.Field == FieldFilterKey && f.Op == OpEqual:
				key = f.Str
			default:
				ok = false
			}
		}
		if ok && path != "" && perm != 0 {
			sb.WriteString("-w " + path + " -p " + permString(perm))
			if key != "" {
				for _, k := range strings.Split(key, "\x01") {
					sb.WriteString(" -k " + k)
				}
			}
			return sb.String()
		}
	}
	if r.Prepend {
		sb.WriteString("-A ")
	} else {
		sb.WriteString("-a ")
	}
	act := "never"
	if r.Action == ActionAlways {
		act = "always"
	}
	sb.WriteString(act + "," + listNames[r.List])
	var rest []RuleField
	for _, f := range r.Fields {
		if f.Field == FieldArch {
			sb.WriteString(" -F arch" + f.Op.String() + archRuleName(Arch(f.Value)))
		} else {
			rest = append(rest, f)
		}
	}
	if all && r.List == ListExit {
		sb.WriteString(" -S all")
	}
	if !all && (r.List == ListExit || r.List == ListURingExit) {
		var names []string
		for n := range BitmaskWords * 32 {
			if r.Syscalls[n/32]&(1<<(n%32)) != 0 {
				if s := SyscallName(arch, n); s != "" {
					names = append(names, s)
				} else {
					names = append(names, strconv.Itoa(n))
				}
			}
		}
		sb.WriteString(" -S " + strings.Join(names, ","))
	}
	var key string
	for _, f := range rest {
		switch {
		case f.Field == FieldFilterKey:
			key = f.Str
			continue
		case f.Field == FieldFieldCompare:
			for _, c := range compares {
				if c.n == f.Value {
					sb.WriteString(" -C " + c.a + f.Op.String() + c.b)
				}
			}
			continue
		}
		name, kind := fieldByNum(f.Field)
		sb.WriteString(" -F " + name + f.Op.String())
		switch kind {
		case kindString:
			sb.WriteString(f.Str)
		case kindPerm:
			sb.WriteString(permString(f.Value))
		case kindExit:
			v := int(int32(f.Value))
			s := strconv.Itoa(v)
			for name, n := range errnoNames {
				if n == -v {
					s = "-" + name
				}
			}
			sb.WriteString(s)
		case kindMsgType:
			sb.WriteString(RecordType(f.Value).String())
		case kindFSType:
			switch f.Value {
			case 0x64626720:
				sb.WriteString("debugfs")
			case 0x74726163:
				sb.WriteString("tracefs")
			default:
				sb.WriteString(strconv.FormatUint(uint64(f.Value), 10))
			}
		case kindFileType:
			sb.WriteString(strconv.FormatUint(uint64(f.Value), 10)) // as auditctl -l
		case kindUID, kindGID:
			if f.Value == Unset {
				sb.WriteString("-1")
			} else {
				sb.WriteString(strconv.FormatUint(uint64(f.Value), 10))
			}
		default:
			if f.Field >= FieldArg0 && f.Field <= FieldArg0+3 {
				sb.WriteString("0x" + strconv.FormatUint(uint64(f.Value), 16))
			} else {
				sb.WriteString(strconv.FormatUint(uint64(f.Value), 10))
			}
		}
	}
	if key != "" {
		for _, k := range strings.Split(key, "\x01") {
			sb.WriteString(" -F key=" + k)
		}
	}
	return sb.String()
}

func archRuleName(a Arch) string {
	switch a {
	case NativeArch():
		if a&Arch64Bit != 0 {
			return "b64"
		}
		return "b32"
	case arch32(NativeArch()):
		return "b32"
	}
	return a.String()
}

func permString(p uint32) string {
	var s []byte
	for _, x := range []struct {
		bit uint32
		c   byte
	}{{4, 'r'}, {2, 'w'}, {1, 'x'}, {8, 'a'}} {
		if p&x.bit != 0 {
			s = append(s, x.c)
		}
	}
	return string(s)
}

// SyscallList returns the syscall numbers in the rule's mask (nil if the
// rule applies to all syscalls).
func (r *Rule) SyscallList() []int {
	if r.allSyscalls() {
		return nil
	}
	var out []int
	for n := range BitmaskWords * 32 {
		if r.Syscalls[n/32]&(1<<(n%32)) != 0 {
			out = append(out, n)
		}
	}
	return out
}
