/** The qoswatch release: the API document's version and qoswatch_build_info's label. */
export const VERSION = '0.1.0';
