"""The graphical window (`--display window`): the guest's screen in every VGA/VBE mode,
drawn at the guest's resolution and scaled with the window, with the keyboard and
mouse going to the PS/2 devices.

SDL2 through PySDL2 (ctypes, so it runs on CPython and PyPy; the pysdl2-dll wheel
brings the SDL library): install the extra `pcmachine[window]`.  A host task polls
SDL's events and, at most 60 times per host second, redraws the window when the
screen's change counter moved: the frame is rendered from video memory only then,
never per guest write.  Keys go to the guest by their position (SDL scancodes, so
the guest's own keyboard layout applies); a click grabs the mouse, Ctrl+Alt+G
releases it (as in QEMU); closing the window ends the run.
"""

import ctypes
import warnings
from typing import Any, Dict, Optional, Tuple

import trio

from .display import find_screen
from .errors import UserError
from .screenshot import screen_image

FRAME_INTERVAL = 1 / 60
RELEASE_HINT = "Ctrl+Alt+G releases the mouse"


def _load_sdl() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # "Using SDL2 binaries from pysdl2-dll"
            import sdl2
    except ImportError:
        raise UserError("--display window needs PySDL2: pip install 'pcmachine[window]'") from None
    return sdl2


def scancode_names(sdl2: Any) -> Dict[int, str]:
    """SDL scancodes (USB HID usage ids) -> our key names (plugins/i8042/keymap.py)."""
    names = {getattr(sdl2, f"SDL_SCANCODE_{letter.upper()}"): letter for letter in "abcdefghijklmnopqrstuvwxyz"}
    names.update({getattr(sdl2, f"SDL_SCANCODE_{digit}"): digit for digit in "0123456789"})
    names.update({getattr(sdl2, f"SDL_SCANCODE_F{n}"): f"f{n}" for n in range(1, 13)})
    names.update({getattr(sdl2, f"SDL_SCANCODE_KP_{n}"): f"kp{n}" for n in range(10)})
    for sdl_name, ours in (
            ("RETURN", "enter"), ("ESCAPE", "esc"), ("BACKSPACE", "backspace"), ("TAB", "tab"),
            ("SPACE", "space"), ("MINUS", "minus"), ("EQUALS", "equal"), ("LEFTBRACKET", "lbracket"),
            ("RIGHTBRACKET", "rbracket"), ("BACKSLASH", "backslash"), ("NONUSHASH", "backslash"),
            ("SEMICOLON", "semicolon"), ("APOSTROPHE", "quote"), ("GRAVE", "grave"), ("COMMA", "comma"),
            ("PERIOD", "period"), ("SLASH", "slash"), ("CAPSLOCK", "capslock"), ("PRINTSCREEN", "prtsc"),
            ("SCROLLLOCK", "scrolllock"), ("PAUSE", "pause"), ("INSERT", "ins"), ("HOME", "home"),
            ("PAGEUP", "pgup"), ("DELETE", "del"), ("END", "end"), ("PAGEDOWN", "pgdn"),
            ("RIGHT", "right"), ("LEFT", "left"), ("DOWN", "down"), ("UP", "up"),
            ("NUMLOCKCLEAR", "numlock"), ("KP_DIVIDE", "kpslash"), ("KP_MULTIPLY", "kpstar"),
            ("KP_MINUS", "kpminus"), ("KP_PLUS", "kpplus"), ("KP_ENTER", "kpenter"),
            ("KP_PERIOD", "kpdot"), ("NONUSBACKSLASH", "intl"), ("APPLICATION", "menu"),
            ("LCTRL", "lctrl"), ("LSHIFT", "lshift"), ("LALT", "lalt"), ("LGUI", "lwin"),
            ("RCTRL", "rctrl"), ("RSHIFT", "rshift"), ("RALT", "ralt"), ("RGUI", "rwin")):
        names[getattr(sdl2, f"SDL_SCANCODE_{sdl_name}")] = ours
    return names


class SDLWindow:
    """One SDL window showing one machine's screen."""

    def __init__(self, machine: Any, scale: int = 0) -> None:
        self.sdl2 = _load_sdl()
        self.machine = machine
        self.screen = find_screen(machine)
        if self.screen is None:
            raise UserError("--display window: this machine has no display component")
        self.scale = scale
        self.keys = scancode_names(self.sdl2)
        self.window: Any = None
        self.renderer: Any = None
        self.texture: Any = None
        self.texture_size: Tuple[int, int] = (0, 0)
        self.drawn_generation = -1
        self.grabbed = False
        self.buttons = 0
        self.state = "running"

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        sdl2 = self.sdl2
        if sdl2.SDL_Init(sdl2.SDL_INIT_VIDEO) != 0:
            raise UserError(f"--display window: SDL cannot open a display: {sdl2.SDL_GetError().decode()}")
        width, height = self._size()
        scale = self.scale or (2 if width < 640 else 1)
        self.window = sdl2.SDL_CreateWindow(self._title().encode(), sdl2.SDL_WINDOWPOS_CENTERED,
                                            sdl2.SDL_WINDOWPOS_CENTERED, width * scale, height * scale,
                                            sdl2.SDL_WINDOW_RESIZABLE)
        if not self.window:
            raise UserError(f"--display window: {sdl2.SDL_GetError().decode()}")
        self.renderer = sdl2.SDL_CreateRenderer(self.window, -1, sdl2.SDL_RENDERER_SOFTWARE)

    def close(self) -> None:
        sdl2 = self.sdl2
        if self.texture:
            sdl2.SDL_DestroyTexture(self.texture)
        if self.renderer:
            sdl2.SDL_DestroyRenderer(self.renderer)
        if self.window:
            sdl2.SDL_DestroyWindow(self.window)
        self.texture = self.renderer = self.window = None
        sdl2.SDL_Quit()

    def _title(self) -> str:
        profile = getattr(self.machine, "profile", None)
        name = (profile.data.get("description") if profile is not None else None) or "machine"
        hint = f" ({RELEASE_HINT})" if self.grabbed else ""
        return f"pcmachine: {name} [{self.state}]{hint}"

    def set_state(self, state: str) -> None:
        self.state = state
        if self.window:
            self.sdl2.SDL_SetWindowTitle(self.window, self._title().encode())

    def _size(self) -> Tuple[int, int]:
        info = self.screen.mode_info()
        return max(1, info.get("width") or 640), max(1, info.get("height") or 480)

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw if the screen changed since the last frame."""
        generation = self.screen.generation
        if generation == self.drawn_generation:
            return
        self.drawn_generation = generation
        width, height, rgb = screen_image(self.machine)
        sdl2 = self.sdl2
        if (width, height) != self.texture_size:
            if self.texture:
                sdl2.SDL_DestroyTexture(self.texture)
            self.texture = sdl2.SDL_CreateTexture(self.renderer, sdl2.SDL_PIXELFORMAT_RGB24,
                                                  sdl2.SDL_TEXTUREACCESS_STREAMING, width, height)
            self.texture_size = (width, height)
            sdl2.SDL_RenderSetLogicalSize(self.renderer, width, height)
        if rgb:
            sdl2.SDL_UpdateTexture(self.texture, None, rgb, width * 3)
        sdl2.SDL_RenderClear(self.renderer)
        sdl2.SDL_RenderCopy(self.renderer, self.texture, None, None)
        sdl2.SDL_RenderPresent(self.renderer)

    def window_pixels(self) -> Tuple[int, int, bytes]:
        """(width, height, RGB) read back from the window at the guest's resolution
        (tests compare it with a screenshot)."""
        sdl2 = self.sdl2
        width, height = self.texture_size
        self.sdl2.SDL_RenderSetLogicalSize(self.renderer, 0, 0)
        sdl2.SDL_SetWindowSize(self.window, width, height)
        self.drawn_generation = -1
        self.texture_size = (0, 0)
        self.refresh()
        buffer = ctypes.create_string_buffer(width * height * 3)
        sdl2.SDL_RenderReadPixels(self.renderer, None, sdl2.SDL_PIXELFORMAT_RGB24, buffer, width * 3)
        return width, height, buffer.raw

    # ------------------------------------------------------------------ input
    async def run(self) -> None:
        """Host task: events and frames until the run ends."""
        event = self.sdl2.SDL_Event()
        while True:
            while self.sdl2.SDL_PollEvent(ctypes.byref(event)):
                self.handle(event)
            self.refresh()
            await trio.sleep(FRAME_INTERVAL)

    def handle(self, event: Any) -> None:
        sdl2 = self.sdl2
        kind = event.type
        if kind == sdl2.SDL_QUIT:
            self.machine.request_stop("quit")
        elif kind in (sdl2.SDL_KEYDOWN, sdl2.SDL_KEYUP):
            self._key(event.key, kind == sdl2.SDL_KEYDOWN)
        elif kind == sdl2.SDL_MOUSEBUTTONDOWN and not self.grabbed:
            self._grab(True)
        elif kind in (sdl2.SDL_MOUSEBUTTONDOWN, sdl2.SDL_MOUSEBUTTONUP):
            bit = {sdl2.SDL_BUTTON_LEFT: 1, sdl2.SDL_BUTTON_RIGHT: 2, sdl2.SDL_BUTTON_MIDDLE: 4}.get(
                event.button.button, 0)
            self.buttons = self.buttons | bit if kind == sdl2.SDL_MOUSEBUTTONDOWN else self.buttons & ~bit
            self._mouse(0, 0, 0)
        elif kind == sdl2.SDL_MOUSEMOTION and self.grabbed:
            self._mouse(event.motion.xrel, -event.motion.yrel, 0)
        elif kind == sdl2.SDL_MOUSEWHEEL and self.grabbed:
            self._mouse(0, 0, -event.wheel.y)
        elif kind == sdl2.SDL_WINDOWEVENT:
            self.drawn_generation = -1          # exposed or resized: draw again

    def _key(self, key_event: Any, down: bool) -> None:
        sdl2 = self.sdl2
        modifiers = key_event.keysym.mod
        scancode = key_event.keysym.scancode
        if (down and scancode == sdl2.SDL_SCANCODE_G and modifiers & sdl2.KMOD_CTRL
                and modifiers & sdl2.KMOD_ALT):
            self._grab(False)
            return
        name = self.keys.get(scancode)
        keyboard = self.machine.keyboard
        if name is None or keyboard is None or (down and key_event.repeat and name in ("lshift", "rshift")):
            return
        (keyboard.press if down else keyboard.release)(name)

    def _grab(self, grab: bool) -> None:
        self.grabbed = grab
        self.sdl2.SDL_SetRelativeMouseMode(self.sdl2.SDL_TRUE if grab else self.sdl2.SDL_FALSE)
        self.set_state(self.state)

    def _mouse(self, dx: int, dy: int, wheel: int) -> None:
        try:
            self.machine.post_input("mouse", {"dx": dx, "dy": dy, "dz": wheel, "buttons": self.buttons})
        except UserError:
            pass                          # no PS/2 mouse in this machine


def open_window(machine: Any, spec: str) -> Optional[SDLWindow]:
    """The window `--display SPEC` asks for: `window` or `window,scale=N`; None for
    `none`.  UserError for anything else."""
    kind, _, rest = spec.partition(",")
    if kind == "none":
        return None
    if kind != "window":
        raise UserError(f"--display {spec}: expected window, window,scale=N or none")
    scale = 0
    if rest:
        key, _, value = rest.partition("=")
        if key != "scale" or not value.isdigit() or not 1 <= int(value) <= 8:
            raise UserError(f"--display {spec}: the only option is scale=1..8")
        scale = int(value)
    window = SDLWindow(machine, scale)
    window.open()
    return window
