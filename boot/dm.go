package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Layout of the kernel's device-mapper ioctl interface
// (include/uapi/linux/dm-ioctl.h), little-endian as on x86-64 and arm64.
const (
	// DMIoctlSize is sizeof(struct dm_ioctl).
	DMIoctlSize = 312
	// DMTargetSpecSize is sizeof(struct dm_target_spec).
	DMTargetSpecSize = 40
	// DMNameLen and DMUUIDLen are the sizes of the name and uuid arrays.
	DMNameLen = 128
	DMUUIDLen = 129
	// DMMaxTypeName is the size of dm_target_spec.target_type.
	DMMaxTypeName = 16

	offVersion     = 0
	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offOpenCount   = 24
	offFlags       = 28
	offEventNr     = 32
	offDev         = 40
	offName        = 48
	offUUID        = 176
)

// The interface version this package speaks (DM_VERSION_MAJOR 4; minor 0
// asks for nothing newer than the first 4.x kernel offers).
var dmVersion = [3]uint32{4, 0, 0}

// Device-mapper commands: the nr of _IOWR(0xfd, nr, struct dm_ioctl).
const (
	DMVersionCmd     = 0
	DMDevCreateCmd   = 3
	DMDevRemoveCmd   = 4
	DMDevSuspendCmd  = 6
	DMDevStatusCmd   = 7
	DMTableLoadCmd   = 9
	DMTableStatusCmd = 12
)

// Flags of dm_ioctl.flags.
const (
	DMReadOnlyFlag    = 1 << 0
	DMSuspendFlag     = 1 << 1
	DMStatusTableFlag = 1 << 4
	DMBufferFullFlag  = 1 << 8
)

// DMRequest returns the ioctl request number of a device-mapper command:
// _IOWR(DM_IOCTL, cmd, struct dm_ioctl) with DM_IOCTL = 0xfd.
func DMRequest(cmd uint) uint {
	const iocRead, iocWrite = 2, 1
	return (iocRead|iocWrite)<<30 | DMIoctlSize<<16 | 0xfd<<8 | cmd
}

// DMHeader is the part of struct dm_ioctl this package reads and writes.
type DMHeader struct {
	Version     [3]uint32
	DataSize    uint32
	DataStart   uint32
	TargetCount uint32
	OpenCount   int32
	Flags       uint32
	EventNr     uint32
	Dev         uint64
	Name        string
	UUID        string
}

// DMTarget is one line of a table: struct dm_target_spec and its
// parameter string.
type DMTarget struct {
	Start, Length uint64
	Type          string
	Params        string
	// Status is dm_target_spec.status, as the kernel returns it.
	Status int32
}

func putCString(dst []byte, s, what string) error {
	if len(s) >= len(dst) || bytes.IndexByte([]byte(s), 0) >= 0 {
		return fmt.Errorf("device-mapper %s %q is too long (at most %d bytes) or holds a NUL", what, s, len(dst)-1)
	}
	copy(dst, s)
	return nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// MarshalDM encodes a device-mapper request: the 312-byte struct dm_ioctl
// followed, from data_start, by the targets (each a 40-byte
// struct dm_target_spec, its parameters NUL-terminated and padded to 8
// bytes, next giving the distance to the following spec), in a buffer of
// at least bufSize bytes so the kernel has room for its answer.
func MarshalDM(h DMHeader, targets []DMTarget, bufSize int) ([]byte, error) {
	var data []byte
	for _, t := range targets {
		if bytes.IndexByte([]byte(t.Params), 0) >= 0 {
			return nil, errors.New("device-mapper table parameters hold a NUL")
		}
		n := DMTargetSpecSize + len(t.Params) + 1
		n = (n + 7) &^ 7
		spec := make([]byte, n)
		le := binary.LittleEndian
		le.PutUint64(spec[0:], t.Start)
		le.PutUint64(spec[8:], t.Length)
		le.PutUint32(spec[16:], uint32(t.Status))
		le.PutUint32(spec[20:], uint32(n))
		if err := putCString(spec[24:40], t.Type, "target type"); err != nil {
			return nil, err
		}
		copy(spec[40:], t.Params)
		data = append(data, spec...)
	}
	size := max(DMIoctlSize+len(data), bufSize)
	b := make([]byte, size)
	le := binary.LittleEndian
	if h.Version == [3]uint32{} {
		h.Version = dmVersion
	}
	for i, v := range h.Version {
		le.PutUint32(b[offVersion+4*i:], v)
	}
	le.PutUint32(b[offDataSize:], uint32(size))
	le.PutUint32(b[offDataStart:], DMIoctlSize)
	le.PutUint32(b[offTargetCount:], uint32(len(targets)))
	le.PutUint32(b[offOpenCount:], uint32(h.OpenCount))
	le.PutUint32(b[offFlags:], h.Flags)
	le.PutUint32(b[offEventNr:], h.EventNr)
	le.PutUint64(b[offDev:], h.Dev)
	if err := putCString(b[offName:offName+DMNameLen], h.Name, "name"); err != nil {
		return nil, err
	}
	if err := putCString(b[offUUID:offUUID+DMUUIDLen], h.UUID, "uuid"); err != nil {
		return nil, err
	}
	copy(b[DMIoctlSize:], data)
	return b, nil
}

// UnmarshalDM decodes the kernel's answer: the header and, for
// DM_TABLE_STATUS, the targets with their status strings (whose next is
// relative to data_start, as retrieve_status writes it).
func UnmarshalDM(b []byte) (DMHeader, []DMTarget, error) {
	var h DMHeader
	if len(b) < DMIoctlSize {
		return h, nil, fmt.Errorf("device-mapper answer of %d bytes, want at least %d", len(b), DMIoctlSize)
	}
	le := binary.LittleEndian
	for i := range h.Version {
		h.Version[i] = le.Uint32(b[offVersion+4*i:])
	}
	h.DataSize = le.Uint32(b[offDataSize:])
	h.DataStart = le.Uint32(b[offDataStart:])
	h.TargetCount = le.Uint32(b[offTargetCount:])
	h.OpenCount = int32(le.Uint32(b[offOpenCount:]))
	h.Flags = le.Uint32(b[offFlags:])
	h.EventNr = le.Uint32(b[offEventNr:])
	h.Dev = le.Uint64(b[offDev:])
	h.Name = cString(b[offName : offName+DMNameLen])
	h.UUID = cString(b[offUUID : offUUID+DMUUIDLen])
	if h.DataSize > uint32(len(b)) {
		return h, nil, fmt.Errorf("device-mapper answer: data_size %d in a buffer of %d", h.DataSize, len(b))
	}
	if h.TargetCount == 0 || h.DataSize <= h.DataStart {
		// With no data the kernel sets data_size to offsetof(data), 305,
		// below data_start; target_count then counts the live table's
		// targets (__dev_status), which are not in the answer.
		return h, nil, nil
	}
	if h.DataStart > h.DataSize || h.DataStart < DMIoctlSize {
		return h, nil, fmt.Errorf("device-mapper answer: data_start %d, data_size %d in a buffer of %d", h.DataStart, h.DataSize, len(b))
	}
	var ts []DMTarget
	data := b[h.DataStart:h.DataSize]
	off := uint32(0)
	for i := uint32(0); i < h.TargetCount; i++ {
		if int(off)+DMTargetSpecSize > len(data) {
			return h, ts, fmt.Errorf("device-mapper answer: target %d lies outside the data", i)
		}
		s := data[off:]
		t := DMTarget{Start: le.Uint64(s[0:]), Length: le.Uint64(s[8:]), Status: int32(le.Uint32(s[16:])),
			Type: cString(s[24:40]), Params: cString(s[40:])}
		ts = append(ts, t)
		next := le.Uint32(s[20:])
		if next <= off && i+1 < h.TargetCount {
			return h, ts, errors.New("device-mapper answer: target list does not advance")
		}
		off = next
	}
	return h, ts, nil
}

// Ioctler issues one device-mapper ioctl on /dev/mapper/control with the
// buffer, which the kernel overwrites with its answer.
type Ioctler interface {
	DMIoctl(cmd uint, buf []byte) error
}

// DM drives the device-mapper through an Ioctler.
type DM struct{ IO Ioctler }

func (d DM) call(cmd uint, h DMHeader, targets []DMTarget, bufSize int) (DMHeader, []DMTarget, error) {
	b, err := MarshalDM(h, targets, bufSize)
	if err != nil {
		return DMHeader{}, nil, err
	}
	if err := d.IO.DMIoctl(cmd, b); err != nil {
		return DMHeader{}, nil, err
	}
	return UnmarshalDM(b)
}

// Version returns the kernel's device-mapper interface version.
func (d DM) Version() ([3]uint32, error) {
	h, _, err := d.call(DMVersionCmd, DMHeader{}, nil, 0)
	if err != nil {
		return [3]uint32{}, fmt.Errorf("device-mapper version: %w", err)
	}
	return h.Version, nil
}

// CreateReadOnly creates device name (with uuid), loads the one-target
// table read-only and resumes it, returning its device number. On a
// failure after creation it removes the device again.
func (d DM) CreateReadOnly(name, uuid string, t DMTarget) (dev uint64, err error) {
	h, _, err := d.call(DMDevCreateCmd, DMHeader{Name: name, UUID: uuid}, nil, 0)
	if err != nil {
		return 0, fmt.Errorf("device-mapper create %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			d.call(DMDevRemoveCmd, DMHeader{Name: name}, nil, 0)
		}
	}()
	if _, _, err = d.call(DMTableLoadCmd, DMHeader{Name: name, Flags: DMReadOnlyFlag}, []DMTarget{t}, 0); err != nil {
		return 0, fmt.Errorf("device-mapper load table of %s (%s %s): %w", name, t.Type, t.Params, err)
	}
	// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes, making the loaded
	// table live.
	r, _, err := d.call(DMDevSuspendCmd, DMHeader{Name: name}, nil, 0)
	if err != nil {
		return 0, fmt.Errorf("device-mapper resume %s: %w", name, err)
	}
	if r.Dev == 0 {
		r.Dev = h.Dev
	}
	return r.Dev, nil
}

// Remove removes device name.
func (d DM) Remove(name string) error {
	_, _, err := d.call(DMDevRemoveCmd, DMHeader{Name: name}, nil, 0)
	return err
}

// Status returns the status line of each target of device name, as
// "dmsetup status" prints it (for verity "V" or "C").
func (d DM) Status(name string) ([]DMTarget, error) {
	_, ts, err := d.call(DMTableStatusCmd, DMHeader{Name: name}, nil, 16384)
	return ts, err
}

// ParseTable splits a table line "START LENGTH TYPE PARAMS…" as Table
// functions of package verity write it.
func ParseTable(line string) (DMTarget, error) {
	var t DMTarget
	var rest string
	fields := bytes.Fields([]byte(line))
	if len(fields) < 3 {
		return t, fmt.Errorf("table line %q: want START LENGTH TYPE PARAMS", line)
	}
	if _, err := fmt.Sscan(string(fields[0]), &t.Start); err != nil {
		return t, fmt.Errorf("table line %q: start: %v", line, err)
	}
	if _, err := fmt.Sscan(string(fields[1]), &t.Length); err != nil {
		return t, fmt.Errorf("table line %q: length: %v", line, err)
	}
	t.Type = string(fields[2])
	for i, f := range fields[3:] {
		if i > 0 {
			rest += " "
		}
		rest += string(f)
	}
	t.Params = rest
	return t, nil
}
