/* Prints, from the kernel's own header, the layout the Go marshalling of
 * package boot must match: sizes, offsets, ioctl numbers, and the bytes of
 * a DM_TABLE_LOAD request for one verity target. Regenerate
 * dmlayout.golden with: cc -o /tmp/dmlayout dmlayout.c && /tmp/dmlayout */
#include <sys/ioctl.h>
#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
	const char *params = "1 /dev/vdb /dev/vdb 4096 4096 2 1 sha256 "
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef - 1 restart_on_corruption";
	size_t plen = strlen(params) + 1;
	size_t slen = (sizeof(struct dm_target_spec) + plen + 7) & ~(size_t)7;
	size_t total = sizeof(struct dm_ioctl) + slen;
	unsigned char *b = calloc(1, total);
	struct dm_ioctl *io = (struct dm_ioctl *)b;
	struct dm_target_spec *sp = (struct dm_target_spec *)(b + sizeof(*io));
	io->version[0] = 4; io->version[1] = 0; io->version[2] = 0;
	io->data_size = total; io->data_start = sizeof(*io); io->target_count = 1;
	io->flags = DM_READONLY_FLAG; io->dev = 0;
	strcpy(io->name, "rampart-root");
	strcpy(io->uuid, "RAMPART-a-0123");
	sp->sector_start = 0; sp->length = 16; sp->next = slen;
	strcpy(sp->target_type, "verity");
	memcpy((char *)(sp + 1), params, plen);
	printf("sizeof_dm_ioctl %zu\nsizeof_dm_target_spec %zu\n", sizeof(struct dm_ioctl), sizeof(struct dm_target_spec));
	printf("offsetof_data_size %zu\noffsetof_dev %zu\noffsetof_name %zu\noffsetof_uuid %zu\noffsetof_data %zu\n",
		offsetof(struct dm_ioctl, data_size), offsetof(struct dm_ioctl, dev), offsetof(struct dm_ioctl, name),
		offsetof(struct dm_ioctl, uuid), offsetof(struct dm_ioctl, data));
	printf("DM_VERSION %#lx\nDM_DEV_CREATE %#lx\nDM_DEV_REMOVE %#lx\nDM_DEV_SUSPEND %#lx\nDM_TABLE_LOAD %#lx\nDM_TABLE_STATUS %#lx\n",
		(unsigned long)DM_VERSION, (unsigned long)DM_DEV_CREATE, (unsigned long)DM_DEV_REMOVE,
		(unsigned long)DM_DEV_SUSPEND, (unsigned long)DM_TABLE_LOAD, (unsigned long)DM_TABLE_STATUS);
	printf("table_load ");
	for (size_t i = 0; i < total; i++) printf("%02x", b[i]);
	printf("\n");
	return 0;
}
