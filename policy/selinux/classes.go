package selinux

// The kernel's object classes and permissions, in the kernel's order
// (security/selinux/include/classmap.h of current Linux), so that the
// generated policy declares every class and permission the kernel checks:
// a kernel warns about classes and permissions its policy lacks and
// handles them by the policy's handleunknown setting.
//
// Two classes are kept for older kernels: lockdown (Linux 5.6 to 6.3;
// Debian 12's 6.1 kernel checks it) and memfd_file (Linux 6.17 with the
// memfd_class capability, which secilc 3.4 does not know; declaring the
// class is harmless). A class or permission the running kernel does not
// know is ignored by it.

// Permission lists shared by several classes (the kernel's COMMON_*
// macros). They become CIL common statements.
var (
	commonFileSock = []string{"ioctl", "read", "write", "create", "getattr", "setattr", "lock",
		"relabelfrom", "relabelto", "append", "map"}
	commonFile = concat(commonFileSock, []string{"unlink", "link", "rename", "execute", "quotaon",
		"mounton", "audit_access", "open", "execmod", "watch", "watch_mount", "watch_sb",
		"watch_with_perm", "watch_reads", "watch_mountns"})
	commonSocket = concat(commonFileSock, []string{"bind", "connect", "listen", "accept", "getopt",
		"setopt", "shutdown", "recvfrom", "sendto", "name_bind"})
	commonIPC = []string{"create", "destroy", "getattr", "setattr", "read", "write", "associate",
		"unix_read", "unix_write"}
	commonCap = []string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
		"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
		"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
		"sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
		"sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap"}
	commonCap2 = []string{"mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend",
		"audit_read", "perfmon", "bpf", "checkpoint_restore"}
)

func concat(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// commonDef is a CIL common: a named permission list.
type commonDef struct {
	name  string
	perms []string
}

var commons = []commonDef{
	{"file", commonFile},
	{"socket", commonSocket},
	{"ipc", commonIPC},
	{"cap", commonCap},
	{"cap2", commonCap2},
}

// classDef is a kernel object class: its common (may be empty) and its
// own permissions.
type classDef struct {
	name   string
	common string
	perms  []string
}

func sock(name string, extra ...string) classDef { return classDef{name, "socket", extra} }

var kernelClasses = []classDef{
	{"security", "", []string{"compute_av", "compute_create", "compute_member", "check_context",
		"load_policy", "compute_relabel", "compute_user", "setenforce", "setbool", "setsecparam",
		"setcheckreqprot", "read_policy", "validate_trans"}},
	{"process", "", []string{"fork", "transition", "sigchld", "sigkill", "sigstop", "signull",
		"signal", "ptrace", "getsched", "setsched", "getsession", "getpgid", "setpgid", "getcap",
		"setcap", "share", "getattr", "setexec", "setfscreate", "noatsecure", "siginh", "setrlimit",
		"rlimitinh", "dyntransition", "setcurrent", "execmem", "execstack", "execheap",
		"setkeycreate", "setsockcreate", "getrlimit"}},
	{"process2", "", []string{"nnp_transition", "nosuid_transition"}},
	{"system", "", []string{"ipc_info", "syslog_read", "syslog_mod", "syslog_console",
		"module_request", "module_load"}},
	{"capability", "cap", nil},
	{"filesystem", "", []string{"mount", "remount", "unmount", "getattr", "relabelfrom",
		"relabelto", "associate", "quotamod", "quotaget", "watch"}},
	{"file", "file", []string{"execute_no_trans", "entrypoint"}},
	{"dir", "file", []string{"add_name", "remove_name", "reparent", "search", "rmdir"}},
	{"fd", "", []string{"use"}},
	{"lnk_file", "file", nil},
	{"chr_file", "file", nil},
	{"blk_file", "file", nil},
	{"sock_file", "file", nil},
	{"fifo_file", "file", nil},
	sock("socket"),
	sock("tcp_socket", "node_bind", "name_connect"),
	sock("udp_socket", "node_bind"),
	sock("rawip_socket", "node_bind"),
	{"node", "", []string{"recvfrom", "sendto"}},
	{"netif", "", []string{"ingress", "egress"}},
	sock("netlink_socket"),
	sock("packet_socket"),
	sock("key_socket"),
	sock("unix_stream_socket", "connectto"),
	sock("unix_dgram_socket"),
	{"sem", "ipc", nil},
	{"msg", "", []string{"send", "receive"}},
	{"msgq", "ipc", []string{"enqueue"}},
	{"shm", "ipc", []string{"lock"}},
	{"ipc", "ipc", nil},
	sock("netlink_route_socket", "nlmsg_read", "nlmsg_write", "nlmsg"),
	sock("netlink_tcpdiag_socket", "nlmsg_read", "nlmsg_write", "nlmsg"),
	sock("netlink_nflog_socket"),
	sock("netlink_xfrm_socket", "nlmsg_read", "nlmsg_write", "nlmsg"),
	sock("netlink_selinux_socket"),
	sock("netlink_iscsi_socket"),
	sock("netlink_audit_socket", "nlmsg_read", "nlmsg_write", "nlmsg_relay", "nlmsg_readpriv",
		"nlmsg_tty_audit", "nlmsg"),
	sock("netlink_fib_lookup_socket"),
	sock("netlink_connector_socket"),
	sock("netlink_netfilter_socket"),
	sock("netlink_dnrt_socket"),
	{"association", "", []string{"sendto", "recvfrom", "setcontext", "polmatch"}},
	sock("netlink_kobject_uevent_socket"),
	sock("netlink_generic_socket"),
	sock("netlink_scsitransport_socket"),
	sock("netlink_rdma_socket"),
	sock("netlink_crypto_socket"),
	sock("appletalk_socket"),
	{"packet", "", []string{"send", "recv", "relabelto", "forward_in", "forward_out"}},
	{"key", "", []string{"view", "read", "write", "search", "link", "setattr", "create"}},
	sock("dccp_socket", "node_bind", "name_connect"),
	{"memprotect", "", []string{"mmap_zero"}},
	{"peer", "", []string{"recv"}},
	{"capability2", "cap2", nil},
	{"kernel_service", "", []string{"use_as_override", "create_files_as"}},
	sock("tun_socket", "attach_queue"),
	{"binder", "", []string{"impersonate", "call", "set_context_mgr", "transfer"}},
	{"cap_userns", "cap", nil},
	{"cap2_userns", "cap2", nil},
	sock("sctp_socket", "node_bind", "name_connect", "association"),
	sock("icmp_socket", "node_bind"),
	sock("ax25_socket"),
	sock("ipx_socket"),
	sock("netrom_socket"),
	sock("atmpvc_socket"),
	sock("x25_socket"),
	sock("rose_socket"),
	sock("decnet_socket"),
	sock("atmsvc_socket"),
	sock("rds_socket"),
	sock("irda_socket"),
	sock("pppox_socket"),
	sock("llc_socket"),
	sock("can_socket"),
	sock("tipc_socket"),
	sock("bluetooth_socket"),
	sock("iucv_socket"),
	sock("rxrpc_socket"),
	sock("isdn_socket"),
	sock("phonet_socket"),
	sock("ieee802154_socket"),
	sock("caif_socket"),
	sock("alg_socket"),
	sock("nfc_socket"),
	sock("vsock_socket"),
	sock("kcm_socket"),
	sock("qipcrtr_socket"),
	sock("smc_socket"),
	{"infiniband_pkey", "", []string{"access"}},
	{"infiniband_endport", "", []string{"manage_subnet"}},
	{"bpf", "", []string{"map_create", "map_read", "map_write", "prog_load", "prog_run"}},
	sock("xdp_socket"),
	sock("mctp_socket"),
	{"perf_event", "", []string{"open", "cpu", "kernel", "tracepoint", "read", "write"}},
	{"lockdown", "", []string{"integrity", "confidentiality"}},
	{"anon_inode", "file", nil},
	{"io_uring", "", []string{"override_creds", "sqpoll", "cmd", "allowed"}},
	{"user_namespace", "", []string{"create"}},
	{"memfd_file", "file", []string{"execute_no_trans", "entrypoint"}},
}

// initialSIDs are the kernel's initial SIDs in the kernel's order (the
// order is what the kernel relies on; unused ones must still be declared).
var initialSIDs = []string{
	"kernel", "security", "unlabeled", "fs", "file", "file_labels", "init", "any_socket",
	"port", "netif", "netmsg", "node", "igmp_packet", "icmp_socket", "tcp_socket",
	"sysctl_modprobe", "sysctl", "sysctl_fs", "sysctl_kernel", "sysctl_net", "sysctl_net_unix",
	"sysctl_vm", "sysctl_dev", "kmod", "policy", "scmp_packet", "devnull",
}

// classPerms returns every permission of the class called name (its
// common's and its own), or nil for an unknown class.
func classPerms(name string) []string {
	for _, c := range kernelClasses {
		if c.name != name {
			continue
		}
		var out []string
		for _, cm := range commons {
			if cm.name == c.common {
				out = append(out, cm.perms...)
			}
		}
		return append(out, c.perms...)
	}
	return nil
}
