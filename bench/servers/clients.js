// The client each token reference is called with. Bench-only values: these servers hold no real data.
'use strict';

module.exports = {
  IDEAL_CLIENT: { id: 'ideal-client', secret: 'ideal-secret-0123456789abcdefghijklmnop' },
  OIDC_CLIENT: { id: 'bench-client', secret: 'bench-secret-0123456789abcdefghijklmnop' },
};
