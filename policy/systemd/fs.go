package systemd

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rampart-sec/rampart/policy"
)

// fsKind is what a unit needs at a path. Larger values win when two
// needs meet at one path.
type fsKind uint8

const (
	fsHidden  fsKind = iota + 1 // not granted, protected: hide it
	fsVisible                   // read, execute or map: keep it visible
	fsRO                        // a read-only carve-out inside a writable path
	fsRW                        // writable
)

type fsEntry struct {
	path   string
	kind   fsKind
	secret bool // hidden and labelled secret: fail closed when missing
	tmpfs  bool // hidden, but with needed paths beneath: tmpfs plus binds
	why    []string
	// hides are the hidden resources mapped to this path (for warnings
	// when something else needs the path).
	hides []hideSrc
}

type hideSrc struct {
	res   *policy.Resource
	glob  string
	rng   hcl.Range
	exact bool
}

// baseDirs are directories every program needs (or that systemd manages
// itself); they and their ancestors are never hidden.
var baseDirs = []string{
	"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc",
	"/opt", "/var", "/var/lib", "/var/cache", "/var/log", "/run",
	"/run/systemd", "/tmp", "/var/tmp", "/home", "/root", "/run/user",
	"/srv", "/mnt", "/media", "/dev", "/proc", "/sys",
}

func baseOrAncestor(p string) bool {
	if p == "/" {
		return true
	}
	for _, b := range baseDirs {
		if b == p || strings.HasPrefix(b, p+"/") {
			return true
		}
	}
	return false
}

// under reports whether p is dir or lies beneath it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if under(p, d) {
			return true
		}
	}
	return false
}

// mountPath maps a glob to the path a mount setting can name: the glob
// itself when it is literal, its longest literal directory prefix
// otherwise. exact reports whether that path covers exactly what the glob
// matches (a literal path, or "dir/**").
func mountPath(glob string) (p string, exact bool) {
	segs := strings.Split(strings.TrimPrefix(glob, "/"), "/")
	i := slices.IndexFunc(segs, func(s string) bool { return strings.ContainsAny(s, "*?") })
	if i < 0 {
		return glob, true
	}
	p = "/" + strings.Join(segs[:i], "/")
	return p, i == len(segs)-1 && segs[i] == "**"
}

func writeVerbs(vs policy.VerbSet) bool {
	return vs.Has(policy.VerbWrite) || vs.Has(policy.VerbAppend) || vs.Has(policy.VerbCreate) ||
		vs.Has(policy.VerbDelete) || vs.Has(policy.VerbSetattr)
}

func fileKind(k policy.Kind) bool {
	return k == policy.KindFile || k == policy.KindDirectory || k == policy.KindSocket
}

// filesystem maps resources, unix sockets and executables to
// ProtectSystem=strict plus ReadWritePaths=, ReadOnlyPaths=,
// InaccessiblePaths=, TemporaryFileSystem= and Bind(ReadOnly)Paths=.
func (c *compiler) filesystem(pl *unitPlan, n *needs, d *dirs) {
	owner := pl.primaries[0].Name
	entries := make(map[string]*fsEntry)
	add := func(p string, k fsKind, why []string, hide *hideSrc, secret bool) {
		e := entries[p]
		if e == nil {
			e = &fsEntry{path: p, kind: k}
			entries[p] = e
		} else if k > e.kind {
			e.kind = k
		}
		e.why = append(e.why, why...)
		if hide != nil {
			e.hides = append(e.hides, *hide)
			e.secret = e.secret || secret
		}
	}
	resWhy := func(r *policy.Resource, glob string) []string {
		return slices.Concat([]string{fmt.Sprintf("resource %s %s (%s)", r.Name, glob, c.pos(r.Range))}, n.resWhy[r.Name])
	}

	// Granted resources.
	written := make(map[string]bool)
	for _, r := range n.res {
		if !fileKind(r.Kind) {
			continue
		}
		vs := n.verbs[r.Name]
		write := writeVerbs(vs)
		who := n.resBy[r.Name][0]
		written[r.Name] = write
		for i, g := range r.Paths {
			mp, exact := mountPath(g)
			if !write {
				add(mp, fsVisible, resWhy(r, g), nil, false)
				continue
			}
			target := mp
			literal := !strings.ContainsAny(g, "*?")
			if r.Kind != policy.KindDirectory && literal && (vs.Has(policy.VerbCreate) || vs.Has(policy.VerbDelete)) {
				target = path.Dir(mp)
				c.warn(who, r.PathRanges[i], fmt.Sprintf("creating or deleting %s (%s) needs its directory writable: ReadWritePaths=%s also covers that directory's other entries", g, r.Name, target))
			} else if !exact {
				c.warn(who, r.PathRanges[i], fmt.Sprintf("ReadWritePaths= takes paths, not globs: write access to %s (%s) is granted on its longest literal directory %s, which also covers paths the glob does not match", g, r.Name, target))
			}
			add(target, fsRW, resWhy(r, g), nil, false)
		}
	}

	// Unix sockets: the server creates the socket in its directory;
	// clients need it visible.
	for _, u := range n.chans {
		ch := u.ch
		if ch.Protocol != policy.ProtoUnix || ch.Path == "" {
			continue
		}
		dir := path.Dir(ch.Path)
		why := fmt.Sprintf("channel %s %s (%s): %s", ch.Name, ch.Path, c.pos(ch.Range), u.member)
		if u.server {
			add(dir, fsRW, []string{why + " binds the socket"}, nil, false)
			c.warn(u.member, ch.Range, fmt.Sprintf("binding %s needs its directory writable: ReadWritePaths=%s", ch.Path, dir))
			c.socketModeWarning(pl, u)
		} else {
			add(dir, fsVisible, []string{why + " connects"}, nil, false)
		}
	}

	// Executables of the members (a member starts the others).
	for _, m := range pl.members {
		for _, exe := range m.Executables {
			add(exe, fsVisible, []string{fmt.Sprintf("executable of %s (%s)", m.Name, c.pos(m.Range))}, nil, false)
		}
	}

	// Resources the unit may not touch: hide protected ones (every one for
	// the untrusted tier), except programs and the base system.
	for _, r := range c.p.Resources {
		if !fileKind(r.Kind) || n.verbs[r.Name] != 0 || c.execRes[r.Name] {
			continue
		}
		var labels []string
		for _, l := range r.Labels {
			if l.Protective() {
				labels = append(labels, string(l))
			}
		}
		var why string
		switch {
		case len(labels) > 0:
			why = fmt.Sprintf("resource %s (%s), labelled %s, is granted to no member", r.Name, c.pos(r.Range), strings.Join(labels, ", "))
		case n.allUntrusted:
			why = fmt.Sprintf("resource %s (%s) is granted to no member (untrusted tier: everything not granted is hidden)", r.Name, c.pos(r.Range))
		default:
			continue
		}
		for i, g := range r.Paths {
			mp, exact := mountPath(g)
			if baseOrAncestor(mp) || underAny(mp, "/proc", "/sys", "/dev") {
				continue
			}
			add(mp, fsHidden, []string{why}, &hideSrc{res: r, glob: g, rng: r.PathRanges[i], exact: exact}, r.HasLabel(policy.LabelSecret))
		}
	}

	// Read-only carve-outs: resources inside a writable path that the
	// unit may not write.
	var rw []string
	for p, e := range entries {
		if e.kind == fsRW {
			rw = append(rw, p)
		}
	}
	slices.Sort(rw)
	for _, w := range rw {
		for _, r := range c.p.Resources {
			if !fileKind(r.Kind) || written[r.Name] {
				continue
			}
			for i, g := range r.Paths {
				mp, exact := mountPath(g)
				switch {
				case under(mp, w) && !exact:
					if e := entries[mp]; e == nil || e.kind != fsHidden {
						c.warn(owner, r.PathRanges[i], fmt.Sprintf("%s (%s) lies in writable %s: ReadOnlyPaths= takes paths, not globs, so it stays writable", g, r.Name, w))
					}
				case mp == w:
					if e := entries[mp]; e == nil || e.kind == fsRW {
						c.warn(owner, r.PathRanges[i], fmt.Sprintf("%s (%s) lies in writable %s and shares its path: systemd cannot keep it read-only", g, r.Name, w))
					}
				case under(mp, w):
					if e := entries[mp]; e != nil && e.kind == fsHidden {
						continue
					}
					add(mp, fsRO, []string{fmt.Sprintf("resource %s %s (%s) is not writable by the unit", r.Name, g, c.pos(r.Range))}, nil, false)
				}
			}
		}
	}

	// Hidden paths that something needs cannot be hidden.
	for _, e := range entries {
		if e.kind != fsHidden && len(e.hides) > 0 {
			for _, h := range e.hides {
				c.warn(owner, h.rng, fmt.Sprintf("%s (%s) is not hidden: %s is also the path of something the unit needs", h.glob, h.res.Name, e.path))
			}
		}
	}

	// ProtectHome= and PrivateTmp= hide whole trees: relax them when the
	// unit needs something inside.
	homeDirs := []string{"/home", "/root", "/run/user"}
	tmpDirs := []string{"/tmp", "/var/tmp"}
	var homeWhy, homeWriteWhy, tmpWhy, tunWhy, cgWhy []string
	for _, e := range entries {
		if e.kind == fsHidden {
			continue
		}
		if underAny(e.path, homeDirs...) {
			homeWhy = append(homeWhy, e.why...)
			if e.kind == fsRW {
				homeWriteWhy = append(homeWriteWhy, e.why...)
			}
		}
		if underAny(e.path, tmpDirs...) {
			tmpWhy = append(tmpWhy, e.why...)
		}
		if e.kind == fsRW && (under(e.path, "/proc/sys") || under(e.path, "/sys") && !under(e.path, "/sys/fs/cgroup")) {
			tunWhy = append(tunWhy, e.why...)
		}
		if e.kind == fsRW && under(e.path, "/sys/fs/cgroup") {
			cgWhy = append(cgWhy, e.why...)
		}
	}
	protectHome := len(homeWhy) == 0
	privateTmp := len(tmpWhy) == 0
	for p, e := range entries {
		if e.kind == fsHidden && (protectHome && underAny(p, homeDirs...) || privateTmp && underAny(p, tmpDirs...)) {
			delete(entries, p) // hidden by ProtectHome=/PrivateTmp= already
		}
	}

	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	// A hidden path inside another is covered by it; a hidden path with
	// needed paths beneath becomes an empty tmpfs with those bound back.
	for _, p := range paths {
		e := entries[p]
		if e == nil || e.kind != fsHidden {
			continue
		}
		// A glob widened to its directory must not hide that directory
		// when a granted path above it covers the rest of it.
		if !slices.ContainsFunc(e.hides, func(h hideSrc) bool { return h.exact }) {
			for q := path.Dir(p); ; q = path.Dir(q) {
				if a := entries[q]; a != nil && a.kind != fsHidden && q != p {
					for _, h := range e.hides {
						c.warn(owner, h.rng, fmt.Sprintf("%s (%s) is not hidden: its directory %s also holds files of %s, which the unit may use", h.glob, h.res.Name, p, q))
					}
					delete(entries, p)
					break
				}
				if q == "/" {
					break
				}
			}
			if entries[p] == nil {
				continue
			}
		}
		for q := path.Dir(p); ; q = path.Dir(q) {
			if a := entries[q]; a != nil && a.kind == fsHidden && q != p {
				delete(entries, p)
				break
			}
			if q == "/" {
				break
			}
		}
		if entries[p] == nil {
			continue
		}
		for _, q := range paths {
			if a := entries[q]; a != nil && a.kind != fsHidden && q != p && under(q, p) {
				e.tmpfs = true
				break
			}
		}
	}

	d.add("ProtectSystem", "strict", "the whole file system is read-only except the paths below (and /dev, /proc, /sys, which the settings further down protect)")
	switch {
	case protectHome:
		d.add("ProtectHome", "yes", "nothing granted under /home, /root, /run/user")
	case len(homeWriteWhy) > 0:
		d.add("ProtectHome", "read-only", slices.Concat([]string{"the unit writes under /home, /root or /run/user (made writable below)"}, homeWriteWhy)...)
	default:
		d.add("ProtectHome", "read-only", slices.Concat([]string{"the unit reads under /home, /root or /run/user"}, homeWhy)...)
	}
	if privateTmp {
		d.add("PrivateTmp", "yes", "nothing granted under /tmp, /var/tmp")
	} else {
		d.add("PrivateTmp", "no", slices.Concat([]string{"the unit shares files under /tmp or /var/tmp"}, tmpWhy)...)
	}

	// Emit in path order; the state of a path is that of its nearest
	// ancestor entry (read-only under ProtectSystem=strict by default).
	type state uint8
	const (
		readOnly state = iota
		writable
		absent
	)
	result := make(map[string]state)
	parentState := func(p string) state {
		for q := path.Dir(p); ; q = path.Dir(q) {
			if s, ok := result[q]; ok && q != p {
				return s
			}
			if q == "/" {
				return readOnly
			}
		}
	}
	var rwD, roD, inD, tmpD, bindD, bindRoD dirs
	for _, p := range paths {
		e := entries[p]
		if e == nil {
			continue
		}
		ps := parentState(p)
		switch e.kind {
		case fsHidden:
			for _, h := range e.hides {
				if !h.exact {
					c.warn(owner, h.rng, fmt.Sprintf("InaccessiblePaths= takes paths, not globs: %s (%s) is hidden through %s, which also hides paths the glob does not match", h.glob, h.res.Name, p))
				}
			}
			if e.tmpfs {
				tmpD.add("TemporaryFileSystem", p+":ro", slices.Concat(e.why, []string{"needed paths beneath are bound back below"})...)
			} else {
				v := "-" + p
				why := e.why
				if e.secret {
					v = p
					why = slices.Concat(why, []string{"secret: the unit fails to start if the path is missing, rather than run without the mask"})
				}
				inD.add("InaccessiblePaths", v, why...)
			}
			result[p] = absent
		case fsRW:
			switch ps {
			case absent:
				bindD.add("BindPaths", "-"+p, e.why...)
			case readOnly:
				rwD.add("ReadWritePaths", "-"+p, e.why...)
			}
			result[p] = writable
		case fsRO:
			switch ps {
			case absent:
				bindRoD.add("BindReadOnlyPaths", "-"+p, e.why...)
			case writable:
				roD.add("ReadOnlyPaths", "-"+p, e.why...)
			}
			result[p] = readOnly
		case fsVisible:
			if ps == absent {
				bindRoD.add("BindReadOnlyPaths", "-"+p, e.why...)
				result[p] = readOnly
			}
		}
	}
	d.add("ReadWritePaths", "")
	d.list = append(d.list, rwD.list...)
	d.add("ReadOnlyPaths", "")
	d.list = append(d.list, roD.list...)
	d.add("InaccessiblePaths", "")
	d.list = append(d.list, inD.list...)
	d.add("TemporaryFileSystem", "")
	d.list = append(d.list, tmpD.list...)
	d.add("BindPaths", "")
	d.list = append(d.list, bindD.list...)
	d.add("BindReadOnlyPaths", "")
	d.list = append(d.list, bindRoD.list...)

	if len(tunWhy) > 0 {
		d.add("ProtectKernelTunables", "no", tunWhy...)
	} else {
		d.add("ProtectKernelTunables", "yes")
	}
	if len(cgWhy) > 0 {
		d.add("ProtectControlGroups", "no", cgWhy...)
	} else {
		d.add("ProtectControlGroups", "yes")
	}

	c.umask(pl, n, d)
}

// umask is 0077 unless files the unit creates are granted to subjects
// with other identities, which then read them through their group.
func (c *compiler) umask(pl *unitPlan, n *needs, d *dirs) {
	var why []string
	for _, r := range n.res {
		if !fileKind(r.Kind) || !n.verbs[r.Name].Has(policy.VerbCreate) {
			continue
		}
		for _, oc := range c.p.Compartments {
			if slices.Contains(pl.members, oc) || oc.User == pl.user && oc.User != "" {
				continue
			}
			if vs, _ := c.p.Granted(oc.Name, r.Name); vs != 0 {
				why = append(why, fmt.Sprintf("%s (user %s) may %s %s, which the unit creates", oc.Name, orUnset(oc.User), verbList(vs), r.Name))
			}
		}
		for _, ro := range c.p.Roles {
			if vs, _ := c.p.Granted(ro.Name, r.Name); vs != 0 {
				why = append(why, fmt.Sprintf("role %s may %s %s, which the unit creates", ro.Name, verbList(vs), r.Name))
			}
		}
	}
	if len(why) > 0 {
		d.add("UMask", "0027", slices.Concat([]string{"new files readable by the group: other identities share them"}, why)...)
		return
	}
	d.add("UMask", "0077", "new files private to the unit's user")
}

// socketModeWarning reports a served unix socket whose clients share
// neither the server's user nor its group: connecting needs write
// permission on the socket file, which UMask= cannot grant without making
// every new file writable by others.
func (c *compiler) socketModeWarning(pl *unitPlan, u chanUse) {
	var foreign []string
	for _, cl := range u.ch.Clients {
		if oc := c.p.Compartment(cl); oc != nil {
			if oc.User != "" && oc.User == pl.user {
				continue
			}
			if pl.group != "" && (oc.Group == pl.group || slices.Contains(oc.Groups, pl.group)) {
				continue
			}
			foreign = append(foreign, fmt.Sprintf("%s (user %s)", oc.Name, orUnset(oc.User)))
			continue
		}
		foreign = append(foreign, "role "+cl)
	}
	if len(foreign) == 0 {
		return
	}
	c.warn(u.member, u.ch.Range, fmt.Sprintf("clients %s share neither the user nor the group of %s, but connecting to %s needs write permission on the socket: UMask= cannot grant it without making every new file writable; use a .socket unit (SocketUser=, SocketGroup=, SocketMode=) or have the server chmod the socket",
		strings.Join(foreign, ", "), u.member, u.ch.Path))
}
