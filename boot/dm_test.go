package boot

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// golden reads testdata/dmlayout.golden, which testdata/dmlayout.c prints
// from the kernel's linux/dm-ioctl.h.
func golden(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/dmlayout.golden")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = v
	}
	return m
}

func TestDMLayoutMatchesKernelHeader(t *testing.T) {
	g := golden(t)
	num := func(k string) uint64 {
		n, err := strconv.ParseUint(g[k], 0, 64)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return n
	}
	for k, want := range map[string]uint64{
		"sizeof_dm_ioctl": DMIoctlSize, "sizeof_dm_target_spec": DMTargetSpecSize,
		"offsetof_data_size": offDataSize, "offsetof_dev": offDev, "offsetof_name": offName, "offsetof_uuid": offUUID,
		"offsetof_data": offUUID + DMUUIDLen,
		"DM_VERSION":    uint64(DMRequest(DMVersionCmd)), "DM_DEV_CREATE": uint64(DMRequest(DMDevCreateCmd)),
		"DM_DEV_REMOVE": uint64(DMRequest(DMDevRemoveCmd)), "DM_DEV_SUSPEND": uint64(DMRequest(DMDevSuspendCmd)),
		"DM_TABLE_LOAD": uint64(DMRequest(DMTableLoadCmd)), "DM_TABLE_STATUS": uint64(DMRequest(DMTableStatusCmd)),
	} {
		if got := num(k); got != want {
			t.Errorf("%s: kernel %#x, package boot %#x", k, got, want)
		}
	}
	want, err := hex.DecodeString(g["table_load"])
	if err != nil {
		t.Fatal(err)
	}
	params := "1 /dev/vdb /dev/vdb 4096 4096 2 1 sha256 " +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef - 1 restart_on_corruption"
	got, err := MarshalDM(DMHeader{Name: "rampart-root", UUID: "RAMPART-a-0123", Flags: DMReadOnlyFlag},
		[]DMTarget{{Start: 0, Length: 16, Type: "verity", Params: params}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("DM_TABLE_LOAD request differs from the C struct at byte %d (lengths %d, %d)", i, len(got), len(want))
			}
		}
		t.Fatalf("DM_TABLE_LOAD request is %d bytes, the C struct %d", len(got), len(want))
	}
}

// TestDMGoldenIsCurrent rebuilds the golden file from the installed
// kernel header when a C compiler is present.
func TestDMGoldenIsCurrent(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler: the golden file is not re-derived from linux/dm-ioctl.h")
	}
	if _, err := os.Stat("/usr/include/linux/dm-ioctl.h"); err != nil {
		t.Skip("no /usr/include/linux/dm-ioctl.h (Debian's linux-libc-dev)")
	}
	bin := filepath.Join(t.TempDir(), "dmlayout")
	if out, err := exec.Command(cc, "-o", bin, "testdata/dmlayout.c").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/dmlayout.golden")
	if !bytes.Equal(out, want) {
		t.Fatalf("testdata/dmlayout.golden is stale; the header now gives:\n%s", out)
	}
}

// fakeDM answers device-mapper ioctls as the kernel does, for the tests.
type fakeDM struct {
	cmds    []uint
	tables  map[string]DMTarget
	devs    map[string]uint64
	failCmd uint
}

func (f *fakeDM) DMIoctl(cmd uint, b []byte) error {
	f.cmds = append(f.cmds, cmd)
	if f.failCmd != 0 && cmd == f.failCmd {
		return errFake
	}
	h, ts, err := UnmarshalDM(b)
	if err != nil {
		return err
	}
	if f.tables == nil {
		f.tables, f.devs = map[string]DMTarget{}, map[string]uint64{}
	}
	le := binary.LittleEndian
	switch cmd {
	case DMDevCreateCmd:
		f.devs[h.Name] = uint64(254<<8 | len(f.devs))
		le.PutUint64(b[offDev:], f.devs[h.Name])
	case DMTableLoadCmd:
		if h.Flags&DMReadOnlyFlag == 0 || len(ts) != 1 {
			return errFake
		}
		f.tables[h.Name] = ts[0]
	case DMDevSuspendCmd:
		le.PutUint64(b[offDev:], f.devs[h.Name])
	case DMDevRemoveCmd:
		delete(f.devs, h.Name)
	case DMTableStatusCmd:
		t := f.tables[h.Name]
		t.Params = "V"
		out, _ := MarshalDM(DMHeader{Name: h.Name}, []DMTarget{t}, 0)
		copy(b, out)
		le.PutUint32(b[offDataSize:], uint32(len(out)))
	}
	return nil
}

func TestDMCreateReadOnly(t *testing.T) {
	f := &fakeDM{}
	d := DM{IO: f}
	tgt, err := ParseTable("0 16 verity 1 /dev/vdb /dev/vdb 4096 4096 2 1 sha256 00 - 1 restart_on_corruption")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.CreateReadOnly("root", "RAMPART-x", tgt)
	if err != nil {
		t.Fatal(err)
	}
	if dev != 254<<8 {
		t.Errorf("dev %#x", dev)
	}
	if want := []uint{DMDevCreateCmd, DMTableLoadCmd, DMDevSuspendCmd}; !equalUints(f.cmds, want) {
		t.Errorf("commands %v, want %v", f.cmds, want)
	}
	if got := f.tables["root"]; got.Params != tgt.Params || got.Length != 16 || got.Type != "verity" {
		t.Errorf("loaded %+v", got)
	}
	st, err := d.Status("root")
	if err != nil || len(st) != 1 || st[0].Params != "V" {
		t.Errorf("status %+v, %v", st, err)
	}
	// A failing table load removes the half-made device.
	f2 := &fakeDM{failCmd: DMTableLoadCmd}
	if _, err := (DM{IO: f2}).CreateReadOnly("root", "", tgt); err == nil || len(f2.devs) != 0 {
		t.Errorf("after a failed load: err %v, devices %v", err, f2.devs)
	}
	if f2.cmds[len(f2.cmds)-1] != DMDevRemoveCmd {
		t.Errorf("commands %v do not end with a remove", f2.cmds)
	}
}

func TestDMBadInput(t *testing.T) {
	if _, err := MarshalDM(DMHeader{Name: strings.Repeat("x", 128)}, nil, 0); err == nil {
		t.Error("a 128-byte name was accepted")
	}
	if _, err := MarshalDM(DMHeader{Name: "a"}, []DMTarget{{Type: "verity", Params: "a\x00b"}}, 0); err == nil {
		t.Error("a NUL in the parameters was accepted")
	}
	if _, _, err := UnmarshalDM(make([]byte, 100)); err == nil {
		t.Error("a short answer was accepted")
	}
	b, _ := MarshalDM(DMHeader{Name: "a"}, nil, 0)
	binary.LittleEndian.PutUint32(b[offTargetCount:], 3)
	binary.LittleEndian.PutUint32(b[offDataSize:], DMIoctlSize+8)
	b = append(b, make([]byte, 8)...)
	if _, _, err := UnmarshalDM(b); err == nil {
		t.Error("targets beyond the data were accepted")
	}
	if _, err := ParseTable("0 x verity"); err == nil {
		t.Error("bad length accepted")
	}
}

func equalUints(a, b []uint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
