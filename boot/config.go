package boot

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Paths inside the initramfs.
const (
	ConfigPath  = "/etc/rampart/boot.json"
	TrustPath   = "/etc/rampart/trust"
	PolicyPath  = "/etc/rampart/policy"
	ModulesPath = "/etc/rampart/modules"
	// StateMount and RootMount are where the init mounts the boot state
	// filesystem and the verified root.
	StateMount = "/rampart/state"
	RootMount  = "/rampart/root"
	// DMName is the device-mapper name of the verified root.
	DMName = "rampart-root"
)

// Failure actions.
const (
	OnFailurePoweroff = "poweroff"
	OnFailureHalt     = "halt"
	OnFailureReboot   = "reboot"
)

// Config is the boot configuration built into the initramfs
// (ConfigPath): where the slots and their state are, how to mount the
// root and what to do when nothing can boot.
type Config struct {
	// StateDevice holds the boot state filesystem (the slot package's
	// state directory, at its root), of type StateFSType (default ext4).
	StateDevice string `json:"state_device"`
	StateFSType string `json:"state_fstype,omitempty"`
	// Slots are the partitions of slots A and B: the image from byte 0,
	// then the superblock, tree and parity (see slot.Placement).
	Slots [2]string `json:"slots"`
	// FSType is the root filesystem type: erofs, squashfs or ext4.
	FSType string `json:"fstype"`
	// OnCorruption is restart_on_corruption (default) or
	// panic_on_corruption: what dm-verity does on a bad block.
	OnCorruption string `json:"on_corruption,omitempty"`
	// Threshold is how many trusted keys must have signed (plain keys).
	Threshold int `json:"threshold,omitempty"`
	// Init is the program executed in the new root (default /sbin/init).
	Init string `json:"init,omitempty"`
	// SELinuxEnforce sets enforcing mode after the policy is loaded.
	SELinuxEnforce bool `json:"selinux_enforce,omitempty"`
	// OnFailure is poweroff (default), halt or reboot.
	OnFailure string `json:"on_failure,omitempty"`
	// DeviceTimeoutSeconds bounds the wait for the devices (default 30).
	DeviceTimeoutSeconds int `json:"device_timeout_seconds,omitempty"`
}

// ParseConfig decodes and checks a configuration, filling in defaults.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("boot configuration: %v", err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check fills in defaults and reports the first bad setting.
func (c *Config) Check() error {
	if c.StateFSType == "" {
		c.StateFSType = "ext4"
	}
	if c.OnCorruption == "" {
		c.OnCorruption = "restart_on_corruption"
	}
	if c.Init == "" {
		c.Init = "/sbin/init"
	}
	if c.OnFailure == "" {
		c.OnFailure = OnFailurePoweroff
	}
	if c.Threshold == 0 {
		c.Threshold = 1
	}
	if c.DeviceTimeoutSeconds == 0 {
		c.DeviceTimeoutSeconds = 30
	}
	switch {
	case !strings.HasPrefix(c.StateDevice, "/dev/"):
		return fmt.Errorf("boot configuration: state_device %q is not a /dev path", c.StateDevice)
	case !strings.HasPrefix(c.Slots[0], "/dev/") || !strings.HasPrefix(c.Slots[1], "/dev/") || c.Slots[0] == c.Slots[1]:
		return fmt.Errorf("boot configuration: slots %q must be two distinct /dev paths", c.Slots)
	case c.StateDevice == c.Slots[0] || c.StateDevice == c.Slots[1]:
		return fmt.Errorf("boot configuration: the state device %s is also a slot", c.StateDevice)
	case c.FSType != "erofs" && c.FSType != "squashfs" && c.FSType != "ext4":
		return fmt.Errorf("boot configuration: fstype %q: want erofs, squashfs or ext4", c.FSType)
	case c.OnCorruption != "restart_on_corruption" && c.OnCorruption != "panic_on_corruption":
		return fmt.Errorf("boot configuration: on_corruption %q: want restart_on_corruption or panic_on_corruption", c.OnCorruption)
	case !strings.HasPrefix(c.Init, "/"):
		return fmt.Errorf("boot configuration: init %q is not absolute", c.Init)
	case c.OnFailure != OnFailurePoweroff && c.OnFailure != OnFailureHalt && c.OnFailure != OnFailureReboot:
		return fmt.Errorf("boot configuration: on_failure %q: want poweroff, halt or reboot", c.OnFailure)
	case c.Threshold < 1 || c.DeviceTimeoutSeconds < 1:
		return fmt.Errorf("boot configuration: threshold and device_timeout_seconds must be positive")
	}
	return nil
}

func jsonIndent(c *Config) ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	return append(b, '\n'), err
}
