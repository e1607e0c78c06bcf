import { applyDecorators, SetMetadata } from '@nestjs/common';

export type AccessLevel = 'public' | 'client' | 'admin';
export const ACCESS_LEVEL = 'accessLevel';

/** No key needed (health, metrics). */
export const Public = () => SetMetadata(ACCESS_LEVEL, 'public' satisfies AccessLevel);
/** An admin key (ADMIN_API_KEYS) is needed: every route that changes state. */
export const Admin = () => SetMetadata(ACCESS_LEVEL, 'admin' satisfies AccessLevel);

export const ADMIN_ACTION = 'adminAction';

/** An admin route (see {@link Admin}) whose every call, allowed or refused, is one `audit` event named `action`. */
export const AdminAction = (action: string) => applyDecorators(Admin(), SetMetadata(ADMIN_ACTION, action));
