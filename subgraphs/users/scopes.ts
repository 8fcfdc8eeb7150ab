/** What every newly registered customer may do. */
export const CUSTOMER_SCOPE = "profile orders:read orders:write payments:read payments:write";
export const ADMIN_SCOPE = "admin profile orders:read orders:write payments:read payments:write catalog:write";
