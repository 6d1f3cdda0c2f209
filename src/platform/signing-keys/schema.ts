import { z } from 'zod';

/** The emergency rotation asks the operator to confirm that every token issued until now stops working. */
export const RetireNowSchema = z.object({
  confirm: z.literal('on', { message: 'Tick the box to confirm that every access token issued until now stops working at once.' }),
});
