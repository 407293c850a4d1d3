import { pageSize, type Page, type PageRequest } from '../../store/repositories/paging.js';
import { DirectoryError } from '../errors.js';
import type { TenantService } from './tenants.js';

export type { Page, PageRequest } from '../../store/repositories/paging.js';

/** A page of a tenant's objects: the tenant by id or verified domain, and the page (`top`, `after`). */
export interface TenantPageRequest extends PageRequest {
  readonly tenant: string;
}

/**
 * Checks a page request before it reaches the store.
 *
 * @throws DirectoryError `invalid` for a `top` out of range (Graph answers a bad `$top` with 400).
 */
export function checkedPage(request: PageRequest): PageRequest {
  try {
    pageSize(request);
  } catch (error) {
    if (error instanceof RangeError) throw new DirectoryError('invalid', error.message);
    throw error;
  }
  return {
    ...(request.top === undefined ? {} : { top: request.top }),
    ...(request.after === undefined ? {} : { after: request.after }),
  };
}

/**
 * One page of the objects of the tenant `request.tenant` names, read by `list`.
 *
 * @throws DirectoryError `not_found` for an unknown tenant, `invalid` for a `top` out of range.
 */
export async function tenantPage<T>(
  tenants: TenantService,
  request: TenantPageRequest,
  list: (request: PageRequest & { readonly tenantId: string }) => Promise<Page<T>>,
): Promise<Page<T>> {
  const page = checkedPage(request);
  const tenant = await tenants.require(request.tenant);
  return list({ ...page, tenantId: tenant.id });
}
