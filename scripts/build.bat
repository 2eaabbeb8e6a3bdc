@echo off
rem Builds the PMS console with pms.spec. Called by build_normal.bat and build_dcdc_disabled.bat, which
rem set PMS_DCDC_DISABLED to 0 or 1 (the spec bakes it into the bundle). Steps: a venv in .venv-build,
rem the pinned packages (pip install .[gui,build]), PyInstaller, then the built program's --selftest.
rem   scripts\build.bat [--onedir]
rem Python 3.11: PMS_PYTHON if set (a path without spaces), else the py launcher's 3.11, else python on PATH.
setlocal
cd /d "%~dp0.."
if not defined PMS_DCDC_DISABLED set PMS_DCDC_DISABLED=0
set PMS_ONEDIR=0
if /i "%~1"=="--onedir" set PMS_ONEDIR=1
if not "%~1"=="" if /i not "%~1"=="--onedir" (
    echo build: ERROR: unknown option %~1 - the only option is --onedir
    exit /b 2
)
if "%PMS_DCDC_DISABLED%"=="1" (set "VARIANT=DC-DC disabled") else (set "VARIANT=normal")
if "%PMS_ONEDIR%"=="1" (set "EXE=dist\PMS_GUI_Application\PMS_GUI_Application.exe") else (set "EXE=dist\PMS_GUI_Application.exe")

if defined PMS_PYTHON (set "PY=%PMS_PYTHON%") else (set "PY=python")
if not defined PMS_PYTHON py -3.11 --version >nul 2>nul && set "PY=py -3.11"
%PY% --version >nul 2>nul
if errorlevel 1 (
    echo build: ERROR: Python 3.11 not found. Install it from python.org and tick "Add python.exe to PATH", or set PMS_PYTHON.
    exit /b 1
)

echo [1/4] Python environment .venv-build
if not exist ".venv-build\Scripts\python.exe" (
    %PY% -m venv .venv-build
    if errorlevel 1 (
        echo build: ERROR: cannot create the venv .venv-build with %PY%
        exit /b 1
    )
)
set "VPY=.venv-build\Scripts\python.exe"

echo [2/4] Pinned packages: pip install .[gui,build]
"%VPY%" -m pip install --upgrade pip
if errorlevel 1 (echo build: ERROR: pip could not update itself - check the network or the proxy & exit /b 1)
"%VPY%" -m pip install ".[gui,build]"
if errorlevel 1 (echo build: ERROR: installing the pinned packages failed - see pip's messages above & exit /b 1)

echo [3/4] PyInstaller pms.spec: %EXE%, variant %VARIANT%
if exist "dist\PMS_GUI_Application" rmdir /s /q "dist\PMS_GUI_Application"
if exist "dist\PMS_GUI_Application.exe" del /q "dist\PMS_GUI_Application.exe"
if exist "dist\config" rmdir /s /q "dist\config"
"%VPY%" -m PyInstaller --noconfirm --clean pms.spec
if errorlevel 1 (echo build: ERROR: PyInstaller failed - see its messages above & exit /b 1)
if not exist "%EXE%" (echo build: ERROR: PyInstaller did not produce %EXE% & exit /b 1)

echo [4/4] Selftest: %EXE% --selftest
start "" /wait "%EXE%" --selftest
if errorlevel 1 (echo build: ERROR: the selftest failed - the reason is in %LOCALAPPDATA%\PMS\logs\pms.log & exit /b 1)

echo.
echo build: OK - %EXE%, variant %VARIANT%
if "%PMS_ONEDIR%"=="1" (echo Deploy: copy the folder dist\PMS_GUI_Application to the site PC.) else (echo Deploy: copy dist\PMS_GUI_Application.exe and the folder dist\config to one folder on the site PC.)
echo Edit the site's devices in config\config.yml beside the exe. Logs: %%LOCALAPPDATA%%\PMS\logs\pms.log
exit /b 0
