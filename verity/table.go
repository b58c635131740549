package verity

import (
	"fmt"
	"strings"
)

// TableOptions are the optional arguments of a dm-verity kernel table.
type TableOptions struct {
	// OnCorruption is "", "ignore_corruption", "restart_on_corruption" or
	// "panic_on_corruption".
	OnCorruption string
	// IgnoreZeroBlocks and CheckAtMostOnce add the flags of those names.
	IgnoreZeroBlocks, CheckAtMostOnce bool
	// FECDevice, with FECStart (in blocks), FECBlocks (message blocks the
	// parity covers) and FECRoots, adds use_fec_from_device.
	FECDevice           string
	FECStart, FECBlocks uint64
	FECRoots            int
	// SignatureKeyDesc names the keyring key holding the PKCS#7
	// signature of the root hash (root_hash_sig_key_desc).
	SignatureKeyDesc string
}

// Table returns the dm-verity target line ("0 SECTORS verity 1 …") that
// the kernel's device-mapper accepts for these parameters, as dmsetup and
// dm-mod.create= take it.
func (p *Params) Table(dataDev, hashDev string, hashStart uint64, root []byte, o TableOptions) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	for _, dev := range []string{dataDev, hashDev, o.FECDevice} {
		if strings.ContainsAny(dev, " \t\n,;") {
			return "", fmt.Errorf("device name %q contains a space, comma or semicolon", dev)
		}
	}
	sectors := p.DataBlocks * uint64(p.DataBlockSize) / 512
	args := []string{fmt.Sprintf("0 %d verity 1 %s %s %d %d %d %d %s %x %s", sectors, dataDev, hashDev,
		p.DataBlockSize, p.HashBlockSize, p.DataBlocks, hashStart, p.Algorithm, root, p.SaltHex())}
	var opt []string
	switch o.OnCorruption {
	case "":
	case "ignore_corruption", "restart_on_corruption", "panic_on_corruption":
		opt = append(opt, o.OnCorruption)
	default:
		return "", fmt.Errorf("unknown corruption mode %q", o.OnCorruption)
	}
	if o.IgnoreZeroBlocks {
		opt = append(opt, "ignore_zero_blocks")
	}
	if o.CheckAtMostOnce {
		opt = append(opt, "check_at_most_once")
	}
	if o.FECDevice != "" {
		opt = append(opt, "use_fec_from_device", o.FECDevice, "fec_start", fmt.Sprint(o.FECStart),
			"fec_blocks", fmt.Sprint(o.FECBlocks), "fec_roots", fmt.Sprint(o.FECRoots))
	}
	if o.SignatureKeyDesc != "" {
		if strings.ContainsAny(o.SignatureKeyDesc, " \t\n") {
			return "", fmt.Errorf("key description %q contains white space", o.SignatureKeyDesc)
		}
		opt = append(opt, "root_hash_sig_key_desc", o.SignatureKeyDesc)
	}
	if len(opt) > 0 {
		args = append(args, fmt.Sprint(len(opt)))
		args = append(args, opt...)
	}
	return strings.Join(args, " "), nil
}

// FECCoverage returns the number of blocks the parity covers (the kernel's
// fec_blocks) for a hash device of hashSize bytes, or with the parity on
// the hash device at fecOffset when onHashDevice is set.
func (p *Params) FECCoverage(hashStart uint64, hashSize int64, fecOffset uint64, onHashDevice bool) uint64 {
	b := uint64(p.HashBlockSize)
	hashBlocks := uint64(hashSize) / b
	if onHashDevice {
		hashBlocks = fecOffset / b
	}
	return p.DataBlocks + hashBlocks - hashStart
}
