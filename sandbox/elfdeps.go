package sandbox

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
)

// runtimeFile is a file the command needs to start: itself, the
// interpreter of a script or the ELF interpreter (both executed), and
// shared libraries (read by the dynamic loader).
type runtimeFile struct {
	path   string
	access uint64
	why    string
}

// commandFiles returns the files exe needs to start. It follows a "#!"
// line one level (a script whose interpreter is itself a script is not
// supported by the kernel either) and resolves DT_NEEDED libraries the
// way the dynamic loader does for the common cases: DT_RPATH/DT_RUNPATH
// (with $ORIGIN), /etc/ld.so.conf directories and the default
// directories. A library that cannot be found is not an error: the
// command will report it.
func commandFiles(exe string) ([]runtimeFile, error) {
	return (*recorder)(nil).commandFiles(exe)
}

// commandFiles is commandFiles recording every file it reads or probes
// (each with stat(2) before it is read): the command, the interpreter,
// /etc/ld.so.conf and the files and directories of its includes, and
// every candidate path of every library.
func (r *recorder) commandFiles(exe string) ([]runtimeFile, error) {
	files := []runtimeFile{{exe, fsExecute | fsReadFile, "the command"}}
	f, err := r.open(exe)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 256)
	n, _ := f.Read(head)
	f.Close()
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
			return nil, fmt.Errorf("%s: bad interpreter line %q", exe, line)
		}
		files = append(files, runtimeFile{fields[0], fsExecute | fsReadFile, "interpreter of " + exe})
		exe = fields[0]
		if base := filepath.Base(exe); base == "env" && len(fields) > 1 {
			// "#!/usr/bin/env prog": env looks prog up in PATH at run
			// time; rampart cannot know which file that is.
			files[len(files)-1].why += " (env: the program it runs needs its own grant)"
		}
	}
	ef, err := r.openELF(exe)
	if err != nil {
		return files, nil // not ELF: nothing more to find
	}
	defer ef.Close()
	seen := map[string]bool{}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				interp := string(bytes.TrimRight(b, "\x00"))
				files = append(files, runtimeFile{interp, fsExecute | fsReadFile, "ELF interpreter"})
				seen[interp] = true
			}
		}
	}
	if hasDynamic(ef) {
		dirs := r.libraryDirs(ef.Class)
		files = append(files, runtimeFile{"/etc/ld.so.cache", fsReadFile, "dynamic loader cache"})
		var walk func(ef *elf.File, origin string)
		walk = func(ef *elf.File, origin string) {
			needed, _ := ef.DynString(elf.DT_NEEDED)
			search := runPaths(ef, origin)
			search = append(search, dirs...)
			for _, lib := range needed {
				p := r.findLibrary(lib, search, ef.Class, ef.Machine)
				if p == "" || seen[p] {
					continue
				}
				seen[p] = true
				files = append(files, runtimeFile{p, fsReadFile, "library " + lib})
				if lf, err := r.openELF(p); err == nil {
					walk(lf, filepath.Dir(p))
					lf.Close()
				}
			}
		}
		walk(ef, filepath.Dir(exe))
	}
	return files, nil
}

func hasDynamic(ef *elf.File) bool {
	for _, p := range ef.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

func runPaths(ef *elf.File, origin string) []string {
	var out []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := ef.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				if filepath.IsAbs(d) {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// libraryDirs returns the loader's search directories: /etc/ld.so.conf
// (with its include lines) and the defaults.
func (r *recorder) libraryDirs(class elf.Class) []string {
	var dirs []string
	var read func(file string, depth int)
	read = func(file string, depth int) {
		if depth > 4 {
			return
		}
		f, err := r.open(file)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if rest, ok := strings.CutPrefix(line, "include "); ok {
				pat := strings.TrimSpace(rest)
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(file), pat)
				}
				ms, _ := r.glob(pat)
				for _, m := range ms {
					read(m, depth+1)
				}
			} else if filepath.IsAbs(line) {
				dirs = append(dirs, line)
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	if class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

func (r *recorder) findLibrary(name string, dirs []string, class elf.Class, machine elf.Machine) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		lf, err := r.openELF(p)
		if err != nil {
			continue
		}
		ok := lf.Class == class && lf.Machine == machine
		lf.Close()
		if ok {
			return p
		}
	}
	return ""
}
