package boot

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LinuxSystem is the System of a real kernel. It must run as PID 1 (or
// at least as root with the initramfs as its root).
type LinuxSystem struct{}

var _ System = LinuxSystem{}

// Mount calls mount(2).
func (LinuxSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

// Unmount calls umount(2).
func (LinuxSystem) Unmount(target string) error { return unix.Unmount(target, 0) }

// moduleInitCompressedFile is MODULE_INIT_COMPRESSED_FILE of
// linux/module.h: the kernel decompresses the module (5.17+ with
// CONFIG_MODULE_DECOMPRESS).
const moduleInitCompressedFile = 4

// LoadModule calls finit_module(2) on path; EEXIST (already loaded) is
// success.
func (LinuxSystem) LoadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") {
		flags = moduleInitCompressedFile
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// DMIoctl issues a device-mapper ioctl on /dev/mapper/control.
func (LinuxSystem) DMIoctl(cmd uint, buf []byte) error {
	if len(buf) < DMIoctlSize {
		return fmt.Errorf("device-mapper buffer of %d bytes", len(buf))
	}
	f, err := os.OpenFile("/dev/mapper/control", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(DMRequest(cmd)), uintptr(unsafe.Pointer(&buf[0])))
	if e != 0 {
		return e
	}
	return nil
}

// DecodeDev splits the kernel's encoded dev_t (huge_encode_dev) into
// major and minor.
func DecodeDev(dev uint64) (major, minor uint32) {
	return uint32((dev >> 8) & 0xfff), uint32((dev & 0xff) | ((dev >> 12) & 0xfff00))
}

// MknodBlock makes a block device node.
func (LinuxSystem) MknodBlock(path string, dev uint64) error {
	maj, min := DecodeDev(dev)
	return unix.Mknod(path, unix.S_IFBLK|0o600, int(unix.Mkdev(maj, min)))
}

// SwitchRoot moves newRoot onto / and chroots into it, as switch_root
// does.
func (LinuxSystem) SwitchRoot(newRoot string) error {
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(newRoot, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move mount: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// Exec calls execve(2).
func (LinuxSystem) Exec(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

// Reboot powers off, halts or restarts the machine.
func (LinuxSystem) Reboot(action string) error {
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	switch action {
	case OnFailureHalt:
		cmd = unix.LINUX_REBOOT_CMD_HALT
	case OnFailureReboot:
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	return unix.Reboot(cmd)
}

// Sync calls sync(2).
func (LinuxSystem) Sync() { unix.Sync() }
