/** The type of the `t` a tap test callback receives (tap exports no name for it with plugins applied). */
import t from 'tap';

export type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
