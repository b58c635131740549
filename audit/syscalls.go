package audit

import (
	"bufio"
	"bytes"
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

// Arch is an AUDIT_ARCH_* value: the ELF machine of the audited syscall
// with flags for 64-bit and little-endian, as in a SYSCALL record's arch=
// field (hex) and in a rule's -F arch=.
type Arch uint32

// Architecture flags and values (linux/audit.h, linux/elf-em.h).
const (
	Arch64Bit        = 0x80000000 // __AUDIT_ARCH_64BIT
	ArchLittleEndian = 0x40000000 // __AUDIT_ARCH_LE

	ArchX86_64  Arch = 0xc000003e // EM_X86_64 | 64BIT | LE
	ArchI386    Arch = 0x40000003 // EM_386 | LE
	ArchAArch64 Arch = 0xc00000b7 // EM_AARCH64 | 64BIT | LE
	ArchARM     Arch = 0x40000028 // EM_ARM | LE
	ArchPPC64   Arch = 0x80000015 // EM_PPC64 | 64BIT (big-endian)
	ArchPPC64LE Arch = 0xc0000015
	ArchS390X   Arch = 0x80000016
	ArchRISCV64 Arch = 0xc00000f3
)

// String returns the name auditd uses for the architecture, or the hex
// value.
func (a Arch) String() string {
	switch a {
	case ArchX86_64:
		return "x86_64"
	case ArchI386:
		return "i386"
	case ArchAArch64:
		return "aarch64"
	case ArchARM:
		return "arm"
	case ArchPPC64:
		return "ppc64"
	case ArchPPC64LE:
		return "ppc64le"
	case ArchS390X:
		return "s390x"
	case ArchRISCV64:
		return "riscv64"
	}
	return strconv.FormatUint(uint64(a), 16)
}

// LittleEndian reports whether the architecture is little-endian.
func (a Arch) LittleEndian() bool { return a&ArchLittleEndian != 0 }

//go:embed tables/x86_64.txt
var x86_64Table string

//go:embed tables/aarch64.txt
var aarch64Table string

//go:embed tables/i386.txt
var i386Table string

// syscallTable is a syscall number ⇄ name table for one architecture.
type syscallTable struct {
	names  []string
	number map[string]int
}

func loadTable(text string) syscallTable {
	t := syscallTable{number: map[string]int{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		num, name, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		n, err := strconv.Atoi(string(num))
		if err != nil || n < 0 || n > 4096 {
			continue
		}
		for len(t.names) <= n {
			t.names = append(t.names, "")
		}
		t.names[n] = string(name)
		t.number[string(name)] = n
	}
	return t
}

// The tables are parsed from the embedded data once, on first use, and
// never modified.
var (
	tableX86_64  = sync.OnceValue(func() syscallTable { return loadTable(x86_64Table) })
	tableAArch64 = sync.OnceValue(func() syscallTable { return loadTable(aarch64Table) })
	tableI386    = sync.OnceValue(func() syscallTable { return loadTable(i386Table) })
)

func tableFor(a Arch) *syscallTable {
	switch a {
	case ArchX86_64:
		t := tableX86_64()
		return &t
	case ArchAArch64:
		t := tableAArch64()
		return &t
	case ArchI386:
		t := tableI386()
		return &t
	}
	return nil
}

// SyscallName returns the name of syscall number n on architecture a, for
// x86_64, aarch64 and i386 (32-bit syscalls on x86_64); "" if unknown.
func SyscallName(a Arch, n int) string {
	t := tableFor(a)
	if t == nil || n < 0 || n >= len(t.names) {
		return ""
	}
	return t.names[n]
}

// SyscallNumber returns the number of the named syscall on architecture a
// (x86_64, aarch64 or i386).
func SyscallNumber(a Arch, name string) (int, bool) {
	t := tableFor(a)
	if t == nil {
		return 0, false
	}
	n, ok := t.number[name]
	return n, ok
}

// Syscalls returns the names of all syscalls known for a, indexed by
// number ("" for unused numbers).
func Syscalls(a Arch) []string {
	t := tableFor(a)
	if t == nil {
		return nil
	}
	return append([]string(nil), t.names...)
}
