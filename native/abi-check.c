/*
 * Prints what the installed <linux/sed-opal.h> says about the sed-opal ABI: request
 * numbers, struct sizes, field offsets and constants, one fact per line:
 *
 *   ioctl NAME NR DIR SIZE 0xREQUEST
 *   struct NAME SIZE
 *   field STRUCT FIELD OFFSET
 *   const NAME VALUE
 *
 * test/opal/abi-native.test.ts compares every line with the TypeScript tables. Anything
 * newer than the installed header is guarded out; the test reports it as skipped.
 * Fields and enum members that have no macro to test are probed by build.sh (HAVE_*).
 */
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/sed-opal.h>

#define IOCTL(name)                                                                   \
	printf("ioctl %s %u %u %u 0x%08lx\n", #name, (unsigned)_IOC_NR(name),            \
	       (unsigned)_IOC_DIR(name), (unsigned)_IOC_SIZE(name), (unsigned long)(name))
#define SIZE(s) printf("struct %s %zu\n", #s, sizeof(struct s))
#define FIELD(s, f) printf("field %s %s %zu\n", #s, #f, offsetof(struct s, f))
#define CONST(name) printf("const %s %ld\n", #name, (long)(name))

static void ioctls(void)
{
	IOCTL(IOC_OPAL_SAVE);
	IOCTL(IOC_OPAL_LOCK_UNLOCK);
	IOCTL(IOC_OPAL_TAKE_OWNERSHIP);
	IOCTL(IOC_OPAL_ACTIVATE_LSP);
	IOCTL(IOC_OPAL_SET_PW);
	IOCTL(IOC_OPAL_ACTIVATE_USR);
	IOCTL(IOC_OPAL_REVERT_TPR);
	IOCTL(IOC_OPAL_LR_SETUP);
	IOCTL(IOC_OPAL_ADD_USR_TO_LR);
	IOCTL(IOC_OPAL_ENABLE_DISABLE_MBR);
	IOCTL(IOC_OPAL_ERASE_LR);
	IOCTL(IOC_OPAL_SECURE_ERASE_LR);
#ifdef IOC_OPAL_PSID_REVERT_TPR
	IOCTL(IOC_OPAL_PSID_REVERT_TPR);
#endif
#ifdef IOC_OPAL_MBR_DONE
	IOCTL(IOC_OPAL_MBR_DONE);
#endif
#ifdef IOC_OPAL_WRITE_SHADOW_MBR
	IOCTL(IOC_OPAL_WRITE_SHADOW_MBR);
#endif
#ifdef IOC_OPAL_GENERIC_TABLE_RW
	IOCTL(IOC_OPAL_GENERIC_TABLE_RW);
#endif
#ifdef IOC_OPAL_GET_STATUS
	IOCTL(IOC_OPAL_GET_STATUS);
#endif
#ifdef IOC_OPAL_GET_LR_STATUS
	IOCTL(IOC_OPAL_GET_LR_STATUS);
#endif
#ifdef IOC_OPAL_GET_GEOMETRY
	IOCTL(IOC_OPAL_GET_GEOMETRY);
#endif
#ifdef IOC_OPAL_DISCOVERY
	IOCTL(IOC_OPAL_DISCOVERY);
#endif
#ifdef IOC_OPAL_REVERT_LSP
	IOCTL(IOC_OPAL_REVERT_LSP);
#endif
#ifdef IOC_OPAL_SET_SID_PW
	IOCTL(IOC_OPAL_SET_SID_PW);
#endif
#ifdef IOC_OPAL_REACTIVATE_LSP
	IOCTL(IOC_OPAL_REACTIVATE_LSP);
#endif
#ifdef IOC_OPAL_LR_SET_START_LEN
	IOCTL(IOC_OPAL_LR_SET_START_LEN);
#endif
#ifdef IOC_OPAL_ENABLE_DISABLE_LR
	IOCTL(IOC_OPAL_ENABLE_DISABLE_LR);
#endif
#ifdef IOC_OPAL_GET_SUM_STATUS
	IOCTL(IOC_OPAL_GET_SUM_STATUS);
#endif
#ifdef IOC_OPAL_STACK_RESET
	IOCTL(IOC_OPAL_STACK_RESET);
#endif
}

static void structs(void)
{
	SIZE(opal_key);
	FIELD(opal_key, lr);
	FIELD(opal_key, key_len);
#ifdef HAVE_OPAL_KEY_KEY_TYPE
	FIELD(opal_key, key_type);
#endif
	FIELD(opal_key, key);

	SIZE(opal_session_info);
	FIELD(opal_session_info, sum);
	FIELD(opal_session_info, who);
	FIELD(opal_session_info, opal_key);

	SIZE(opal_lock_unlock);
	FIELD(opal_lock_unlock, session);
	FIELD(opal_lock_unlock, l_state);
#ifdef HAVE_OPAL_LOCK_UNLOCK_FLAGS
	FIELD(opal_lock_unlock, flags);
#endif

	SIZE(opal_lr_act);
	FIELD(opal_lr_act, key);
	FIELD(opal_lr_act, sum);
	FIELD(opal_lr_act, num_lrs);
	FIELD(opal_lr_act, lr);

	SIZE(opal_user_lr_setup);
	FIELD(opal_user_lr_setup, range_start);
	FIELD(opal_user_lr_setup, range_length);
	FIELD(opal_user_lr_setup, RLE);
	FIELD(opal_user_lr_setup, WLE);
	FIELD(opal_user_lr_setup, session);

	SIZE(opal_new_pw);
	FIELD(opal_new_pw, session);
	FIELD(opal_new_pw, new_user_pw);

	SIZE(opal_mbr_data);
	FIELD(opal_mbr_data, key);
	FIELD(opal_mbr_data, enable_disable);

#ifdef IOC_OPAL_MBR_DONE
	SIZE(opal_mbr_done);
	FIELD(opal_mbr_done, key);
	FIELD(opal_mbr_done, done_flag);
#endif

#ifdef IOC_OPAL_WRITE_SHADOW_MBR
	SIZE(opal_shadow_mbr);
	FIELD(opal_shadow_mbr, key);
	FIELD(opal_shadow_mbr, data);
	FIELD(opal_shadow_mbr, offset);
	FIELD(opal_shadow_mbr, size);
#endif

#ifdef IOC_OPAL_GENERIC_TABLE_RW
	SIZE(opal_read_write_table);
	FIELD(opal_read_write_table, key);
	FIELD(opal_read_write_table, data);
	FIELD(opal_read_write_table, table_uid);
	FIELD(opal_read_write_table, offset);
	FIELD(opal_read_write_table, size);
	FIELD(opal_read_write_table, flags);
	FIELD(opal_read_write_table, priv);
#endif

#ifdef IOC_OPAL_GET_STATUS
	SIZE(opal_status);
	FIELD(opal_status, flags);
	FIELD(opal_status, reserved);
#endif

#ifdef IOC_OPAL_GET_LR_STATUS
	SIZE(opal_lr_status);
	FIELD(opal_lr_status, session);
	FIELD(opal_lr_status, range_start);
	FIELD(opal_lr_status, range_length);
	FIELD(opal_lr_status, RLE);
	FIELD(opal_lr_status, WLE);
	FIELD(opal_lr_status, l_state);
#endif

#ifdef IOC_OPAL_GET_GEOMETRY
	SIZE(opal_geometry);
	FIELD(opal_geometry, align);
	FIELD(opal_geometry, logical_block_size);
	FIELD(opal_geometry, alignment_granularity);
	FIELD(opal_geometry, lowest_aligned_lba);
#endif

#ifdef IOC_OPAL_DISCOVERY
	SIZE(opal_discovery);
	FIELD(opal_discovery, data);
	FIELD(opal_discovery, size);
#endif

#ifdef IOC_OPAL_REVERT_LSP
	SIZE(opal_revert_lsp);
	FIELD(opal_revert_lsp, key);
	FIELD(opal_revert_lsp, options);
#endif

#ifdef IOC_OPAL_REACTIVATE_LSP
	SIZE(opal_lr_react);
	FIELD(opal_lr_react, key);
	FIELD(opal_lr_react, new_admin_key);
	FIELD(opal_lr_react, num_lrs);
	FIELD(opal_lr_react, lr);
	FIELD(opal_lr_react, range_policy);
	FIELD(opal_lr_react, entire_table);
#endif

#ifdef IOC_OPAL_GET_SUM_STATUS
	SIZE(opal_sum_ranges);
	FIELD(opal_sum_ranges, key);
	FIELD(opal_sum_ranges, num_lrs);
	FIELD(opal_sum_ranges, lr);
	FIELD(opal_sum_ranges, range_policy);
#endif
}

static void constants(void)
{
	CONST(OPAL_KEY_MAX);
	CONST(OPAL_MAX_LRS);
	CONST(OPAL_UID_LENGTH);
	CONST(OPAL_ADMIN1);
	CONST(OPAL_USER1);
	CONST(OPAL_USER9);
	CONST(OPAL_RO);
	CONST(OPAL_RW);
	CONST(OPAL_LK);
	CONST(OPAL_MBR_ENABLE);
	CONST(OPAL_MBR_DISABLE);
	CONST(OPAL_MBR_NOT_DONE);
	CONST(OPAL_MBR_DONE);
	CONST(OPAL_READ_TABLE);
	CONST(OPAL_WRITE_TABLE);
	CONST(OPAL_TABLE_READ);
	CONST(OPAL_TABLE_WRITE);
#ifdef OPAL_FL_SUPPORTED
	CONST(OPAL_FL_SUPPORTED);
	CONST(OPAL_FL_LOCKING_SUPPORTED);
	CONST(OPAL_FL_LOCKING_ENABLED);
	CONST(OPAL_FL_LOCKED);
	CONST(OPAL_FL_MBR_ENABLED);
	CONST(OPAL_FL_MBR_DONE);
#endif
#ifdef OPAL_FL_SUM_SUPPORTED
	CONST(OPAL_FL_SUM_SUPPORTED);
#endif
#ifdef HAVE_OPAL_KEY_KEY_TYPE
	CONST(OPAL_INCLUDED);
	CONST(OPAL_KEYRING);
#endif
#ifdef HAVE_OPAL_SAVE_FOR_LOCK
	CONST(OPAL_SAVE_FOR_LOCK);
#endif
#ifdef HAVE_OPAL_PRESERVE
	CONST(OPAL_PRESERVE);
#endif
}

int main(void)
{
	ioctls();
	structs();
	constants();
	return 0;
}
