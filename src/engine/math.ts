// Scalar math that JavaScript lacks, in float64.

// erf(x): the rational approximations of fdlibm's s_erf.c (Sun Microsystems, 1993; the same
// coefficients as glibc, musl and Go), accurate to < 1 ulp. Four ranges of |x|:
//   [0, 0.84375):   erf(x) = x + x R(x^2)                      (R = P/Q, degrees 4/5)
//   [0.84375, 1.25): erf(x) = erx + P(s)/Q(s), s = |x| - 1     (erx = erf(1) rounded to float)
//   [1.25, 6):      erf(x) = 1 - exp(-z^2 - 0.5625) exp((z - x)(z + x) + R(1/x^2)) / x,
//                   z = x rounded to float32 so that z^2 and the sum with 0.5625 are exact
//                   (fdlibm keeps the high 32 bits of x for the same reason)
//   [6, inf):       erf(x) = +-1 (1 - erf(6) < 2e-17).
const ERX = 8.45062911510467529297e-01;
const EFX = 1.28379167095512586316e-01; // 2/sqrt(pi) - 1
const PP = [1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
  -5.77027029648944159157e-03, -2.37630166566501626084e-05];
const QQ = [3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
  1.32494738004321644526e-04, -3.96022827877536812320e-06];
const PA = [-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
  3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02, -2.16637559486879084300e-03];
const QA = [1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
  1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02];
const RA = [-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
  -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
  -8.12874355063065934246e+01, -9.81432934416914548592e+00];
const SA = [1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
  6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
  6.57024977031928170135e+00, -6.04244152148580987438e-02];
const RB = [-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
  -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
  -4.83519191608651397019e+02];
const SB = [3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
  3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
  -2.24409524465858183362e+01];

/** c[0] + t c[1] + t^2 c[2] + ... (Horner). */
function poly(c: readonly number[], t: number): number {
  let r = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) r = c[i] + t * r;
  return r;
}

/** 1 + t c[0] + t^2 c[1] + ... */
function poly1(c: readonly number[], t: number): number {
  return 1 + t * poly(c, t);
}

/** erf(x) in float64, within 1 ulp (fdlibm's algorithm; see above). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return x + EFX * x;
    const z = x * x;
    return x + x * (poly(PP, z) / poly1(QQ, z));
  } else if (ax < 1.25) {
    const s = ax - 1;
    r = ERX + poly(PA, s) / poly1(QA, s);
  } else if (ax < 6) {
    const s = 1 / (ax * ax);
    const RS = ax < 1 / 0.35 ? poly(RA, s) / poly1(SA, s) : poly(RB, s) / poly1(SB, s);
    const z = Math.fround(ax);
    r = 1 - Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + RS) / ax;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

/** Round half to even (torch.round, numpy.round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
