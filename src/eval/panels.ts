// The MAE notebook's four pictures of a reconstruction (original | masked | reconstruction |
// reconstruction + visible), un-normalised to 8-bit images: what `vitmae reconstruct` and the demo draw.

import { unnormalize } from "../data/preprocess.ts";
import type { PreprocessorConfig } from "../data/preprocessorConfig.ts";
import type { Image } from "../io/image.ts";
import type { Reconstruction } from "./reconstruct.ts";

/** The column headers, in the order of `panels`' pictures. */
export const PANEL_HEADERS = ["original", "masked", "reconstruction", "reconstruction + visible"] as const;

/** The four panels of each image, un-normalised with the processor's mean/std to 8-bit pictures (read with await). */
export async function panels(r: Reconstruction, processor: PreprocessorConfig): Promise<Image[][]> {
  const [b, c, h, w] = r.original.shape;
  const plane = c * h * w;
  const arrays = await Promise.all([r.original, r.masked, r.reconstruction, r.pasted].map((t) => t.data()));
  return Array.from({ length: b }, (_, i) =>
    arrays.map((a) =>
      unnormalize(
        a.subarray(i * plane, (i + 1) * plane),
        { channels: c, height: h, width: w },
        processor.imageMean,
        processor.imageStd,
        processor.rescaleFactor,
      ),
    ),
  );
}
